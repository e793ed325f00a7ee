-- Grain: day x location (last touch) x agent x hour of day (the practice's local time).
-- Inbound calls that are not spam-likely. Answered: the call's status is "Connected";
-- missed: "Not Connected" or "Busy" (errors and calls in progress are neither).
with calls as (
    select * from {{ ref("stg_liine__interactions") }}
    where interaction_type = 'call' and direction = 'inbound' and not is_spam_likely
)

select
    activity_date as call_date,
    coalesce(last_touch_location, 'Unknown') as location,
    coalesce(agent, 'Unassigned') as agent,
    activity_hour as hour_of_day,
    count(*) as calls,
    {{ count_if("connection_status = 'Connected'") }} as answered,
    {{ count_if("connection_status in ('Not Connected', 'Busy')") }} as missed,
    {{ count_if("voicemail") }} as voicemails,
    coalesce(sum(case when connection_status = 'Connected' then duration_seconds end), 0) as answered_seconds,
    {{ count_if("outcome = 'Booked'") }} as booked,
    {{ count_if("outcome = 'Booked Later'") }} as booked_later,
    {{ count_if("outcome = 'Not Booked'") }} as not_booked,
    {{ count_if("outcome = 'Not Booked' and reason_not_booked = 'Price Objection'") }} as not_booked_price,
    {{ count_if("outcome = 'Not Booked' and reason_not_booked = 'Caller Procrastination'") }}
        as not_booked_procrastination,
    {{ count_if("outcome = 'Not Booked' and reason_not_booked not in ('Price Objection', 'Caller Procrastination')") }}
        as not_booked_other_reason,
    {{ count_if("outcome = 'Not Booked' and reason_not_booked is null") }} as not_booked_no_reason
from calls
group by activity_date, coalesce(last_touch_location, 'Unknown'), coalesce(agent, 'Unassigned'), activity_hour
