{{ config(enabled=liine_enabled("conversations")) }}
-- One row per message (the newest version); who sent it, from `sender_info.meta_type`.
-- The document lists no values for it: "Patient" (any case) is the patient, any other
-- value a member of the practice's staff ("User" so far); `sender_type` is it lower-cased,
-- read whether the API sends it plain or as {"value": ...}.
with latest as (
    {{ latest_rows("conversation_messages", ["id"], "updated_at") }}
),

typed as (
    select
        cast(id as {{ dbt.type_bigint() }}) as message_id,
        cast(conversation_id as {{ dbt.type_bigint() }}) as conversation_id,
        cast(location_id as {{ dbt.type_string() }}) as location_id,
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at,
        {{ category(json_value_text("sender_info", "meta_type")) }} as sender_type,
        body,
        attachment_file_name is not null as has_attachment
    from latest
)

select
    *,
    coalesce(sender_type = 'patient', false) as is_from_patient,
    coalesce(sender_type <> 'patient', false) as is_from_practice,
    {{ practice_time("created_at") }} as created_at_local
from typed
