{{ config(enabled=liine_enabled("conversations")) }}
-- Grain: the practice's day (`tap_liine__timezone`) of the patient's first message x location.
select
    cast({{ practice_time("first_patient_message_at") }} as date) as first_message_date,
    location_id,
    count(*) as conversations,
    count(first_reply_at) as answered,
    percentile_cont(0.5) within group (order by response_seconds) as median_response_seconds
from {{ ref("patient_response_times") }}
group by cast({{ practice_time("first_patient_message_at") }} as date), location_id
