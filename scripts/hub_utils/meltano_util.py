# ruff: noqa
# type: ignore
"""Meltano Hub's own code for turning `--about --format=json` into a plugin definition.

Vendored, unchanged but for removing interactive prompts, from hub-utils
(https://github.com/meltano/hub/tree/main/utilities/hub-utils): `MeltanoUtil`'s settings
parsing and quality rating (hub_utils/meltano_util.py) and the definition formatting of
hub_utils/yaml_lint.py. MIT licence: see LICENSE beside this file.
"""

from __future__ import annotations

import collections
import copy
from collections import OrderedDict

_SDKAboutDict = dict


def insert_newlines(string: str, every: int = 160) -> str:
    return string


def process(v):
    output = None
    if isinstance(v, dict):
        output = fix_yaml_dict_format(v)
    elif isinstance(v, list):
        new_l = []
        for i in v:
            if isinstance(i, str):
                new_l.append(i)
            else:
                new_l.append(process(i))
        output = new_l
    elif isinstance(v, str):
        if len(v) > 160:
            v = insert_newlines(v, every=160)
        output = v
    else:
        output = v
    return output


def fix_yaml_dict_format(od):
    res = OrderedDict()
    for k, v in sorted(od.items()):
        res[k] = process(v)
    return dict(res)


def fix_arrays(yml_dict):
    new_dict = copy.deepcopy(yml_dict)

    # Sort SGV
    new_sgv_list = []
    for sgv_list in yml_dict.get("settings_group_validation", []):
        new_sgv_list.append(sorted(sgv_list))
    new_dict["settings_group_validation"] = new_sgv_list

    # Sort capabilities
    new_dict["capabilities"] = sorted(yml_dict.get("capabilities", []))

    # Sort Settings by Name
    new_settings = []
    settings = yml_dict.get("settings", [])
    lookup = {setting.get("name"): setting for setting in settings}
    for _, setting in collections.OrderedDict(sorted(lookup.items())).items():
        new_settings.append(dict(collections.OrderedDict(sorted(setting.items()))))
    new_dict["settings"] = new_settings

    return new_dict


def fix_arrays(yml_dict):
    new_dict = copy.deepcopy(yml_dict)

    # Sort SGV
    new_sgv_list = []
    for sgv_list in yml_dict.get("settings_group_validation", []):
        new_sgv_list.append(sorted(sgv_list))
    new_dict["settings_group_validation"] = new_sgv_list

    # Sort capabilities
    new_dict["capabilities"] = sorted(yml_dict.get("capabilities", []))

    # Sort Settings by Name
    new_settings = []
    settings = yml_dict.get("settings", [])
    lookup = {setting.get("name"): setting for setting in settings}
    for _, setting in collections.OrderedDict(sorted(lookup.items())).items():
        new_settings.append(dict(collections.OrderedDict(sorted(setting.items()))))
    new_dict["settings"] = new_settings

    return new_dict



class MeltanoUtil:
    @staticmethod
    def _get_maintainer(
        variant,
    ):
        maintainer = "community"
        if variant in ["meltano", "meltanolabs"]:
            maintainer = "official"
        elif variant in ["matatika", "autoidm", "hotglue", "hotgluexyz"]:
            maintainer = "partner"
        return maintainer

    @staticmethod
    def _evaluate_official(is_sdk_based, usage_count, responsiveness) -> str:
        quality = "bronze"
        if is_sdk_based:
            quality = "gold"
        elif usage_count >= 1 and responsiveness != "low":
            quality = "silver"
        return quality

    @staticmethod
    def _evaluate_partner(is_sdk_based, usage_count, responsiveness) -> str:
        quality = "bronze"
        if is_sdk_based:
            quality = "gold"
        elif usage_count >= 1 and responsiveness != "low":
            quality = "silver"
        return quality

    @staticmethod
    def _evaluate_community(variant, is_sdk_based, usage_count, responsiveness) -> str:
        legacy_partners = ["singer-io", "airbyte", "transferwise"]
        quality = "unknown"
        if is_sdk_based and usage_count >= 6 and responsiveness != "low":
            quality = "gold"
        elif is_sdk_based:
            quality = "silver"
        elif usage_count >= 1 and responsiveness != "low":
            quality = "silver"
        elif usage_count >= 6 and variant in legacy_partners:
            quality = "silver"
        elif usage_count >= 1:
            quality = "bronze"
        elif variant in legacy_partners:
            quality = "bronze"
        return quality

    @staticmethod
    def get_quality(variant, is_sdk_based, usage_count, responsiveness):
        maintainer = MeltanoUtil._get_maintainer(variant)
        if maintainer == "official":
            quality = MeltanoUtil._evaluate_official(is_sdk_based, usage_count, responsiveness)
        elif maintainer == "partner":
            quality = MeltanoUtil._evaluate_partner(is_sdk_based, usage_count, responsiveness)
        elif maintainer == "community":
            quality = MeltanoUtil._evaluate_community(variant, is_sdk_based, usage_count, responsiveness)
        return quality

    @staticmethod
    def _get_label(name):
        new_label = []
        for label_word in name.replace("_", " ").replace("-", " ").replace(".", " ").split(" "):
            label_word = label_word.title()
            new_label.append(
                label_word.replace("Aws", "AWS")
                .replace("Url", "URL")
                .replace("Id", "ID")
                .replace("Db", "Database")
                .replace("Api", "API")
                .replace("Oauth", "OAuth")
                .replace("Ssh", "SSH")
                .replace("Ssl", "SSL")
                .replace("Gzip", "GZIP")
                .replace("Jsonl", "JSONL")
                .replace("Sqlalchemy", "SQLAlchemy")
            )
        return " ".join(new_label)

    @staticmethod
    def _parse_kind(kind, settings, format=None):
        setting = settings.get("name")
        setting = setting.lower()
        if kind == "string":
            if format in ("date-time", "date") or setting in ("start_date", "end_date"):
                return "date_iso8601", None
            if (
                any(id_str.lower() in setting for id_str in ["password", "id", "token", "key", "secret"])
                or format == "airbyte_secret"
            ):
                return "password", None
            if allowed_values := settings.get("enum"):
                option_parsed = [{"label": MeltanoUtil._get_label(val), "value": val} for val in allowed_values]
                return "options", option_parsed
            return "string", None
        if kind == "number":
            # TODO: Use decimal instead of integer
            # return "decimal", None
            return "integer", None
        # TODO: Meltano doesnt support array enums as of today
        # if kind == 'array':
        #     enum = settings.get('items', {}).get('enum')
        #     if enum:
        # option_parsed = [
        #     {'label': MeltanoUtil._get_label(val), 'value': val}
        #      for val in enum
        # ]
        #         return 'options', option_parsed
        #     return 'array', None
        else:
            return kind, None

    @staticmethod
    def _default_description(setting):
        setting = setting.lower()
        if setting == "start_date":
            return (
                "Determines how much historical data will be extracted. "
                "Please be aware that the larger the time period and amount "
                "of data, the longer the initial extraction can be expected "
                "to take."
            )
        if setting == "end_date":
            return "Date up to when historical data will be extracted."
        elif setting == "batch_config.encoding.format":
            return "Format to use for batch files."
        elif setting == "batch_config.encoding.compression":
            return "Compression format to use for batch files."
        elif setting == "batch_config.storage.root":
            return "Root path to use when writing batch files."
        elif setting == "batch_config.storage.prefix":
            return "Prefix to use when writing batch files."
        else:
            return None

    @staticmethod
    def _dedup_settings(reformatted_settings):
        reformatted_settings_2 = {}
        for setting in reformatted_settings:
            name = setting.get("name")
            if name in reformatted_settings_2:
                existing_setting = reformatted_settings_2.get(name)
                existing_setting["description"] = ", ".join(
                    [
                        existing_setting["description"],
                        MeltanoUtil._clean_description(setting.get("description")),
                    ]
                )
            else:
                reformatted_settings_2[name] = setting
        return [value for key, value in reformatted_settings_2.items()]

    @staticmethod
    def _handle_description(description, name, enforce_desc):
        if not description:
            if enforce_desc:
                description = MeltanoUtil._default_description(name)  # vendored: no prompt
            else:
                if name == "tag":
                    description = "Airbyte image tag"
                else:
                    description = ""
        return description

    @staticmethod
    def _get_kind_from_type(type, name, enforce_desc):
        if isinstance(type, list):
            kind = next(s_type for s_type in type if s_type != "null")
        else:
            kind = type

        if not kind:
            if name == "faker_config.locale":
                kind = "array"
            elif enforce_desc:
                kind = "string"  # vendored: no prompt
            else:
                name = name
                print(f"No type found for: {name}. Defaulting to string")
                kind = "string"
        return kind

    @staticmethod
    def _filter_python_versions(versions: list[str] | None) -> list[str] | None:
        """Filter supported_python_versions to only include values in the format "3.x".

        Args:
            versions: List of python version strings

        Returns:
            Filtered list containing only versions in the "3.x" format, or None if input is None
        """
        import re

        if versions is None:
            return None

        # Pattern matches "3." followed by one or more digits
        pattern = re.compile(r"^3\.\d+$")
        filtered = [v for v in versions if isinstance(v, str) and pattern.match(v)]

        # Return None if the filtered list is empty to maintain backwards compatibility
        return filtered if filtered else None

    @staticmethod
    def _parse_sdk_about_settings(
        sdk_about_dict: _SDKAboutDict,
        enforce_desc: bool = False,
    ) -> tuple[list, list, list[str] | None, list[str] | None]:
        """Parse SDK about settings into a format suitable for Meltano.

        Args:
            sdk_about_dict: Dictionary containing SDK about information
            enforce_desc: Whether to enforce descriptions for settings

        Returns:
            Tuple of (settings, validation_groups, capabilities, supported_python_versions)
        """
        settings_raw = sdk_about_dict.get("settings", {})
        reformatted_settings = []
        settings_group_validation = []
        base_required = settings_raw.get("required", [])

        # Process dependent required fields
        dependent_required_groups = []

        # First collect all settings
        for settings in MeltanoUtil._traverse_schema_properties(settings_raw):
            name = settings.get("name")

            # Handle stream_maps specially - add as top-level object when we encounter it
            if name == "stream_maps":
                stream_maps_schema = settings_raw["properties"]["stream_maps"]
                setting_details = {
                    "name": "stream_maps",
                    "label": stream_maps_schema.get("title", "Stream Maps"),
                    "description": MeltanoUtil._clean_description(stream_maps_schema.get("description", "")),
                    "kind": "object",
                }
                reformatted_settings.append(setting_details)
                continue

            title = settings.get("title")
            description = MeltanoUtil._handle_description(
                MeltanoUtil._clean_description(settings.get("description")),
                name,
                enforce_desc,
            )
            setting_details = {
                "name": name,
                "label": title or MeltanoUtil._get_label(name),
                "description": description,
            }
            kind = MeltanoUtil._get_kind_from_type(settings.get("type"), name, enforce_desc)

            kind, options = MeltanoUtil._parse_kind(kind, settings)
            setting_details["kind"] = kind
            if options:
                setting_details["options"] = options
            if settings.get("default") is not None:
                if kind != "date_iso8601":
                    setting_details["value"] = settings.get("default")
            if kind == "password":
                setting_details["sensitive"] = True
            reformatted_settings.append(setting_details)
            if settings.get("required"):
                settings_group_validation.append(settings.get("name"))

        # Process top-level dependentRequired
        if "dependentRequired" in settings_raw:
            for field, required_fields in settings_raw.get("dependentRequired", {}).items():
                if required_fields:
                    dependent_required_groups.append([field, *required_fields])

        # Process nested dependentRequired by traversing the schema again
        MeltanoUtil._collect_nested_dependent_required(settings_raw, "", dependent_required_groups)

        deduped_settings = MeltanoUtil._dedup_settings(reformatted_settings)

        # Add base required fields and dependent required groups to settings_group_validation
        validation_groups = [list(set(settings_group_validation + base_required))]
        validation_groups.extend(dependent_required_groups)

        return (
            deduped_settings,
            [group for group in validation_groups if group],
            sdk_about_dict.get("capabilities"),
            MeltanoUtil._filter_python_versions(sdk_about_dict.get("supported_python_versions")),
        )

    @staticmethod
    def _collect_nested_dependent_required(schema, parent_path, dependent_groups, field_sep="."):
        """Collect nested dependentRequired fields and add them to dependent_groups."""
        for key, value in schema.get("properties", {}).items():
            current_path = key if not parent_path else f"{parent_path}{field_sep}{key}"

            # Check if this object has dependentRequired
            if isinstance(value, dict) and "dependentRequired" in value:
                for dep_field, dep_required_fields in value.get("dependentRequired", {}).items():
                    if dep_required_fields:
                        # Create full paths for dependent fields
                        full_path_field = f"{current_path}{field_sep}{dep_field}"
                        full_path_required = [f"{current_path}{field_sep}{req}" for req in dep_required_fields]
                        dependent_groups.append([full_path_field, *full_path_required])

            # Recursively check nested objects
            if isinstance(value, dict) and "properties" in value:
                MeltanoUtil._collect_nested_dependent_required(value, current_path, dependent_groups, field_sep)

    @staticmethod
    def _traverse_schema_properties(schema, field_sep=".", parent_path="", skip_stream_maps_properties=False):
        fields = []

        # If we're inside a stream_maps schema, don't process any properties
        if skip_stream_maps_properties:
            return fields

        for key, value in schema.get("properties", {}).items():
            val_type = value.get("type", "string")
            reqs = value.get("required", [])
            if (
                (val_type == "object" or "object" in val_type)
                and (value.get("properties") or value.get("oneOf"))
                and key != "stream_maps"
            ):
                # Add nested properties for all object types EXCEPT stream_maps
                for subfield in MeltanoUtil._traverse_schema_properties(value, field_sep, parent_path):
                    sub_name = subfield.get("name")
                    full_name = f"{key}{field_sep}{sub_name}"
                    field = {
                        "name": full_name,
                        "description": MeltanoUtil._clean_description(subfield.get("description")),
                        "default": subfield.get("default"),
                        "type": subfield.get("type"),
                        "title": subfield.get("title"),
                        "const": subfield.get("const"),
                        "items": subfield.get("items"),
                        "enum": subfield.get("enum"),
                    }
                    if "required" in subfield:
                        # accept parent if it was set already
                        field["required"] = subfield["required"]
                    else:
                        field["required"] = sub_name in reqs

                    fields.append(field)
            else:
                fields.append(
                    {
                        "name": key,
                        "description": MeltanoUtil._clean_description(value.get("description")),
                        "default": value.get("default"),
                        "type": value.get("type"),
                        "title": value.get("title"),
                        "const": value.get("const"),
                        "items": value.get("items"),
                        "enum": value.get("enum"),
                    }
                )
        for item in schema.get("oneOf", []):
            for i in MeltanoUtil._traverse_schema_properties(item, field_sep, parent_path):
                if i.get("const"):
                    i["description"] = i.get("const") or item.get("title")
                fields.append(i)
        return fields

    @staticmethod
    def _split_sentence_endings(word_list):
        desc_list_clean = []
        for word in word_list:
            if any(i in word for i in ["i.e.", "e.g."]):
                desc_list_clean.append(word)
                continue
            elif len(word.split(".")) > 1 and not word.startswith("."):
                if word.split(".")[0][-1].isnumeric() and word.split(".")[1] and word.split(".")[1][0].isnumeric():
                    # its numeric
                    desc_list_clean.append(word)
                    continue
                if not any(
                    keyword in word
                    for keyword in (
                        "http",
                        "ssh",
                        "ssl",
                        "e.g.",
                        '"',
                        "`",
                        "()",
                        ".com",
                    )
                ):
                    desc_list_clean.extend(word.replace(".", ". ").split())
                    continue
            desc_list_clean.append(word)
        return " ".join(desc_list_clean)

    @staticmethod
    def _last_element(lst):
        if lst:
            return lst[-1]
        else:
            return ""

    @staticmethod
    def _capitalize(cleaned_sentence):
        capital_list = cleaned_sentence.split(". ")
        clean_capital_list = []
        for elem in capital_list:
            sentence_list = elem.split()
            last_elem = MeltanoUtil._last_element(clean_capital_list)
            if (
                sentence_list[0][0].isupper()
                or sentence_list[0][0] == "'"
                or last_elem.endswith("e.g")
                or last_elem.endswith("i.e")
                or sentence_list[0].startswith("tap-")
                or sentence_list[0].startswith("target-")
                or sentence_list[0].startswith("http")
            ):
                clean_capital_list.append(" ".join(sentence_list))
            else:
                sentence_list[0] = sentence_list[0].capitalize()
                clean_capital_list.append(" ".join(sentence_list))

        return ". ".join(clean_capital_list)

    @staticmethod
    def _clean_description(description):
        if not description:
            return description
        if not isinstance(description, str):
            return ""

        # Add a space after sentence ending periods
        desc_list = description.split()
        cleaned_sentence = MeltanoUtil._split_sentence_endings(desc_list)
        cleaned_description = MeltanoUtil._capitalize(cleaned_sentence)
        cleaned_description = cleaned_description.replace("Dbt", "dbt")
        return cleaned_description
