"""The XML and JSON bodies of GeoReport v2 answers.

XML is built with `xml.etree.ElementTree`, which escapes `&`, `<` and `>` in text, so
whatever a citizen typed (a `<script>` tag included) is data, never markup. Characters
XML 1.0 cannot carry at all (most control characters) are replaced by U+FFFD, or the
document would not parse. A list becomes repeated child elements named after the list
(`services` → `service`), as in the spec's examples; `null` an empty element.

JSON is written with `<`, `>` and `&` as `\\u003c`, `\\u003e`, `\\u0026`: the same string
to any JSON parser, and inert should a page ever embed the body.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any

XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'

# The element of each item of a list, by the list's own element.
ITEM_TAGS: Mapping[str, str] = {
    "services": "service",
    "service_requests": "request",
    "attributes": "attribute",
    "values": "value",
    "errors": "error",
    "endpoints": "endpoint",
    "formats": "format",
}

_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(value: str) -> str:
    return _NOT_XML.sub("\ufffd", value)


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return xml_text(str(value))


def _fill(element: ET.Element, value: Any) -> None:
    if value is None:
        return
    if isinstance(value, Mapping):
        for key, child in value.items():
            _fill(ET.SubElement(element, key), child)
        return
    if isinstance(value, list | tuple):
        item_tag = ITEM_TAGS[element.tag]
        for child in value:
            _fill(ET.SubElement(element, item_tag), child)
        return
    element.text = _scalar(value)


def to_xml(root: str, body: Any) -> bytes:
    """`body` (lists, dicts and scalars, as `model_dump` gives them) under `<root>`."""
    element = ET.Element(root)
    _fill(element, body)
    return XML_DECLARATION + ET.tostring(element, encoding="unicode").encode("utf-8")


_JSON_UNSAFE = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"}


def to_json(body: Any) -> bytes:
    # The three characters only occur inside strings in JSON text, so replacing them
    # everywhere changes no value.
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for char, escaped in _JSON_UNSAFE.items():
        text = text.replace(char, escaped)
    return text.encode("utf-8")
