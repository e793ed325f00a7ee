{#- One row per key of the loaded `table` (see liine_table): the newest version. Upserting
    loaders (target-postgres, target-duckdb with keys) keep one already; appending ones keep
    every version. Newest = latest `updated` value, then the loader's own sequence or batch
    time when its table has them. -#}
{% macro latest_rows(table, keys, updated=none) -%}
    {%- set relation = liine_table(table) -%}
    {%- set present = [] if relation is string else liine_column_names(relation) -%}
    {%- set order = [] -%}
    {#- `updated` mapped away or deselected: the loader's order alone. -#}
    {%- if updated and (relation is string or updated in present) -%}
        {%- do order.append(updated ~ " desc nulls last") -%}
    {%- endif -%}
    {%- for column in ["_sdc_sequence", "_sdc_batched_at", "_sdc_received_at"] -%}
        {%- if column in present -%}{%- do order.append(column ~ " desc nulls last") -%}{%- endif -%}
    {%- endfor -%}
    select * from (
        select
            loaded.*,
            row_number() over (
                partition by {{ keys | join(", ") }} order by {{ (order or ["1"]) | join(", ") }}
            ) as liine_version_rank
        from {{ relation }} as loaded
    ) as versions
    where liine_version_rank = 1
{%- endmacro %}
