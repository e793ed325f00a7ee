{#- The columns of a loaded `table` that its staging model reads (_sources.yml), each as the
    expression to select: the column itself (`alias.name` with an alias), or a null of the
    declared type where the table lacks it. A property the user nulled with a stream map
    (`__NULL__`) or deselected is absent from the SCHEMA, so the loader never created its
    column; the models read it as null and the marts still build. Keys are read plainly. -#}
{% macro liine_columns(table, alias=none) -%}
    {%- set declared = {} -%}
    {%- if not execute -%}{{ return(declared) }}{%- endif -%}
    {%- set found = liine_loaded(table) -%}
    {#- No table: liine_table stands in an empty select of every declared column. -#}
    {%- set present = none if found is none else liine_column_names(found) -%}
    {%- set prefix = alias ~ "." if alias else "" -%}
    {%- for name, column in liine_declared(table).items() -%}
        {%- if present is none or name in present -%}
            {%- do declared.update({name: prefix ~ name}) -%}
        {%- else -%}
            {%- do declared.update({name: "(cast(null as " ~ liine_type(column.data_type) ~ "))"}) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(declared) }}
{%- endmacro %}
