{{ config(unique_key='order_id') }}

select
    order_id,
    customer_id,
    status,
    cast(amount as numeric(10, 2)) as amount,
    ordered_on
from {{ ref('stg_orders') }}
where status != 'test'
