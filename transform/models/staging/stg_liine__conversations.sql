{{ config(enabled=liine_enabled("conversations")) }}
-- One row per conversation (the newest version).
with latest as (
    {{ latest_rows("conversations", ["id"], "updated_at") }}
)

select
    cast(id as {{ dbt.type_bigint() }}) as conversation_id,
    cast(location_id as {{ dbt.type_string() }}) as location_id,
    subdomain,
    cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
    cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at,
    cast({{ json_text("patient", "id") }} as {{ dbt.type_bigint() }}) as patient_id
from latest
