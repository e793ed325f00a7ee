{{ config(enabled=liine_enabled("liine")) }}
-- Grain: day x location (last touch) x agent x hour of day (the practice's local time).
-- Inbound calls that are not spam-likely. Answered: status "Connected", "Answered" or
-- "Complete"; missed: "Not Connected", "Not Answered" or "Busy" (any case; errors and calls
-- in progress are neither, so answered + missed can be fewer than calls).
with calls as (
    select * from {{ ref("stg_liine__interactions") }}
    where is_call and is_inbound and not is_spam_likely
)

select
    activity_date as call_date,
    coalesce(last_touch_location, 'Unknown') as location,
    coalesce(agent, 'Unassigned') as agent,
    activity_hour as hour_of_day,
    count(*) as calls,
    {{ count_if("is_answered") }} as answered,
    {{ count_if("is_missed") }} as missed,
    {{ count_if("voicemail") }} as voicemails,
    coalesce(sum(case when is_answered then duration_seconds end), 0) as answered_seconds,
    {{ count_if("is_outcome_booked") }} as booked,
    {{ count_if("is_outcome_booked_later") }} as booked_later,
    {{ count_if("is_outcome_not_booked") }} as not_booked,
    {{ count_if("is_outcome_not_booked and reason_not_booked_group = 'price'") }} as not_booked_price,
    {{ count_if("is_outcome_not_booked and reason_not_booked_group = 'procrastination'") }} as not_booked_procrastination,
    {{ count_if("is_outcome_not_booked and reason_not_booked_group = 'other'") }} as not_booked_other_reason,
    {{ count_if("is_outcome_not_booked and reason_not_booked_group is null") }} as not_booked_no_reason
from calls
group by activity_date, coalesce(last_touch_location, 'Unknown'), coalesce(agent, 'Unassigned'), activity_hour
