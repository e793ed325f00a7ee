{#- Which of the three sources a project has. `tap_liine__using_<source>` (Fivetran's
    convention): false skips that source's models, true requires its tables, unset (the
    default) reads a table when it exists and an empty stand-in otherwise, so a practice with
    one source builds every mart, those of absent sources empty. -#}

{% macro liine_source_of(table) -%}
    {{ return({"interactions": "liine", "conversations": "conversations", "conversation_messages": "conversations",
               "appointment_statistics": "interactly", "appointment_trends": "interactly"}[table]) }}
{%- endmacro %}

{#- For a model's config: false only when the user switched the source off. -#}
{% macro liine_enabled(source_name) -%}
    {{ return(var("tap_liine__using_" ~ source_name, true) is not false) }}
{%- endmacro %}

{#- The loaded table, or (unset var, table absent) an empty select of the columns the
    staging model reads, typed as _sources.yml declares them. -#}
{% macro liine_table(table) -%}
    {%- set relation = source("liine", table) -%}
    {%- if not execute -%}{{ return(relation) }}{%- endif -%}
    {%- set using_var = "tap_liine__using_" ~ liine_source_of(table) -%}
    {%- set using = var(using_var, none) -%}
    {%- set found = liine_loaded(table) -%}
    {%- if found is not none -%}{{ return(found) }}{%- endif -%}
    {%- if using is not none -%}
        {{ exceptions.raise_compiler_error(
            "tap-liine: " ~ using_var ~ " is true but the table " ~ relation ~ " does not exist. Load the stream `"
            ~ table ~ "` first, point the vars liine_schema / liine_" ~ table ~ " at where the loader put it, or set "
            ~ using_var ~ " to false to skip this source's models.") }}
    {%- endif -%}
    {%- do log("tap-liine: no table " ~ relation ~ "; " ~ this.name ~ " is built empty (set " ~ using_var
               ~ ": false to skip it)", info=true) -%}
    {%- set typed = [] -%}
    {%- for name, column in liine_declared(table).items() -%}
        {%- do typed.append("cast(null as " ~ liine_type(column.data_type) ~ ") as " ~ name) -%}
    {%- endfor -%}
    {{ return("(select " ~ typed | join(", ") ~ " where 1 = 0)") }}
{%- endmacro %}

{#- The table the loader made for `table`, or none where there is none. -#}
{% macro liine_loaded(table) -%}
    {%- set relation = source("liine", table) -%}
    {{ return(adapter.get_relation(database=relation.database, schema=relation.schema,
                                   identifier=relation.identifier)) }}
{%- endmacro %}

{#- The columns _sources.yml declares for `table`, by name. -#}
{% macro liine_declared(table) -%}
    {{ return(graph.sources["source." ~ model.package_name ~ ".liine." ~ table].columns) }}
{%- endmacro %}

{#- The names of a loaded relation's columns, lower-cased. -#}
{% macro liine_column_names(relation) -%}
    {{ return(adapter.get_columns_in_relation(relation) | map(attribute="name") | map("lower") | list) }}
{%- endmacro %}

{#- The generic types _sources.yml declares, in the warehouse's spelling. -#}
{% macro liine_type(name) -%}
    {%- if name == "json" -%}{{ return(liine_json_type()) }}{%- endif -%}
    {{ return({"bigint": dbt.type_bigint(), "text": dbt.type_string(), "timestamp": dbt.type_timestamp(),
               "boolean": dbt.type_boolean(), "float": dbt.type_float()}[name]) }}
{%- endmacro %}

{% macro liine_json_type() -%}{{ return(adapter.dispatch("liine_json_type", "tap_liine")()) }}{%- endmacro %}
{% macro default__liine_json_type() -%}json{%- endmacro %}
{% macro postgres__liine_json_type() -%}jsonb{%- endmacro %}
{% macro snowflake__liine_json_type() -%}variant{%- endmacro %}
