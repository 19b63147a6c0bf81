-- customers, one row each
SELECT
    id AS customer_id,
    name,
    email
FROM {{ source('raw', 'customers') }}
