{{ config(unique_key='order_id') }}

select
    order_id,
    customer_id,
    status as order_status,
    cast(amount as numeric(12, 2)) as amount,
    ordered_on,
    amount > 100 as is_large
from {{ ref('stg_orders') }}
where status not in ('test', 'void')
