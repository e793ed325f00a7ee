{#- What the three warehouses spell differently. JSON: DuckDB's JSON and PostgreSQL's jsonb
    take ->>; Snowflake's VARIANT takes a path. -#}

{% macro json_text(column, key) -%}{{ return(adapter.dispatch("json_text", "tap_liine")(column, key)) }}{%- endmacro %}
{% macro default__json_text(column, key) -%}({{ column }} ->> '{{ key }}'){%- endmacro %}
{% macro postgres__json_text(column, key) -%}(cast({{ column }} as jsonb) ->> '{{ key }}'){%- endmacro %}
{% macro snowflake__json_text(column, key) -%}({{ column }}:{{ key }}::varchar){%- endmacro %}

{#- A JSON field's text whether the API sent the value itself or wrapped it as {"value": ...}
    (the conversations document's sample shows both shapes). -#}
{% macro json_value_text(column, key) -%}coalesce({{ json_path_text(column, [key, "value"]) }}, {{ json_text(column, key) }}){%- endmacro %}
{% macro json_path_text(column, keys) -%}{{ return(adapter.dispatch("json_path_text", "tap_liine")(column, keys)) }}{%- endmacro %}
{% macro default__json_path_text(column, keys) -%}({{ column }} ->> '$.{{ keys | join(".") }}'){%- endmacro %}
{% macro postgres__json_path_text(column, keys) -%}(cast({{ column }} as jsonb) #>> '{ {{- keys | join(",") -}} }'){%- endmacro %}
{% macro snowflake__json_path_text(column, keys) -%}({{ column }}:{{ keys | join(":") }}::varchar){%- endmacro %}

{#- The elements of a JSON list column, joined as rows; each element is `list_element()`. -#}
{% macro list_elements(column) -%}{{ return(adapter.dispatch("list_elements", "tap_liine")(column)) }}{%- endmacro %}
{% macro default__list_elements(column) -%}cross join unnest(cast({{ column }} as json[])) as elements(element){%- endmacro %}
{#- to_jsonb: target-postgres makes a list of objects jsonb[], other loaders jsonb; both become a jsonb list. -#}
{% macro postgres__list_elements(column) -%}cross join lateral jsonb_array_elements(to_jsonb({{ column }})) as elements(element){%- endmacro %}
{% macro snowflake__list_elements(column) -%}cross join lateral flatten(input => {{ column }}) as elements{%- endmacro %}

{% macro list_element() -%}{{ return(adapter.dispatch("list_element", "tap_liine")()) }}{%- endmacro %}
{% macro default__list_element() -%}element{%- endmacro %}
{% macro snowflake__list_element() -%}elements.value{%- endmacro %}

{#- Seconds from `start` to `end`, fractions kept. -#}
{% macro seconds_between(start, end) -%}{{ return(adapter.dispatch("seconds_between", "tap_liine")(start, end)) }}{%- endmacro %}
{% macro default__seconds_between(start, end) -%}((epoch_ms({{ end }}) - epoch_ms({{ start }})) / 1000.0){%- endmacro %}
{% macro postgres__seconds_between(start, end) -%}cast(extract(epoch from ({{ end }} - {{ start }})) as double precision){%- endmacro %}
{% macro snowflake__seconds_between(start, end) -%}(datediff('millisecond', {{ start }}, {{ end }}) / 1000.0){%- endmacro %}

{#- The API's wall-clock `start_time` ("2026-03-02T09:15:00Z", the Z notwithstanding) as a
    timestamp without zone: the practice's local time. -#}
{% macro wall_clock(column) -%}
    cast(replace(replace({{ column }}, 'T', ' '), 'Z', '') as {{ dbt.type_timestamp() }})
{%- endmacro %}

{#- A UTC timestamp (without zone) as the practice's wall clock: in the time zone
    `tap_liine__timezone` (an IANA name, default America/New_York). -#}
{% macro practice_time(column) -%}{{ return(adapter.dispatch("practice_time", "tap_liine")(column, var("tap_liine__timezone"))) }}{%- endmacro %}
{% macro default__practice_time(column, zone) -%}timezone('{{ zone }}', timezone('UTC', {{ column }})){%- endmacro %}
{% macro postgres__practice_time(column, zone) -%}(({{ column }} at time zone 'UTC') at time zone '{{ zone }}'){%- endmacro %}
{% macro snowflake__practice_time(column, zone) -%}convert_timezone('UTC', '{{ zone }}', {{ column }}){%- endmacro %}

{#- Categorical values compared by meaning: case and surrounding spaces do not matter. -#}
{% macro category(column) -%}lower(trim({{ column }})){%- endmacro %}

{% macro count_if(condition) -%}sum(case when {{ condition }} then 1 else 0 end){%- endmacro %}
