"""Vendored Meltano Hub tooling (hub-utils, MIT): see meltano_util.py and LICENSE."""
