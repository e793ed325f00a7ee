{{ config(enabled=liine_enabled("conversations")) }}
-- Grain: conversation with at least one patient message. How long the practice took to
-- answer the patient's first message: until the first staff message after it (null when
-- none has come yet).
with messages as (
    select * from {{ ref("stg_liine__conversation_messages") }}
),

first_patient_message as (
    select conversation_id, min(created_at) as first_patient_message_at
    from messages
    where is_from_patient
    group by conversation_id
),

first_reply as (
    select first_patient_message.conversation_id, min(messages.created_at) as first_reply_at
    from first_patient_message
    inner join messages
        on messages.conversation_id = first_patient_message.conversation_id
        and messages.is_from_practice
        and messages.created_at > first_patient_message.first_patient_message_at
    group by first_patient_message.conversation_id
)

select
    conversations.conversation_id,
    conversations.location_id,
    first_patient_message.first_patient_message_at,
    first_reply.first_reply_at,
    {{ seconds_between("first_patient_message.first_patient_message_at", "first_reply.first_reply_at") }}
        as response_seconds
from first_patient_message
inner join {{ ref("stg_liine__conversations") }} as conversations
    on conversations.conversation_id = first_patient_message.conversation_id
left join first_reply on first_reply.conversation_id = first_patient_message.conversation_id
