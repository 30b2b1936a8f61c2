"""Shapes of the GeoReport v2 answers, field for field in the spec's order.

Ids and codes are strings (the spec's JSON examples print `001` as a bare number, which is
not JSON). Dates are already W3C strings with the time zone. The same models are written
as JSON and as XML (`minyi.open311.xml`), which is the spec's "Spark convention".
"""

from __future__ import annotations

from pydantic import BaseModel


class ServiceOut(BaseModel):
    service_code: str
    service_name: str
    description: str | None
    metadata: bool
    type: str
    keywords: str | None
    group: str | None


class AttributeValueOut(BaseModel):
    key: str
    name: str


class AttributeOut(BaseModel):
    variable: bool
    code: str
    datatype: str
    required: bool
    datatype_description: str | None
    order: int
    description: str
    values: list[AttributeValueOut]


class ServiceDefinitionOut(BaseModel):
    service_code: str
    attributes: list[AttributeOut]


class RequestOut(BaseModel):
    service_request_id: str
    status: str
    status_notes: str | None
    service_name: str | None
    service_code: str
    description: str | None
    agency_responsible: str | None
    service_notice: str | None
    requested_datetime: str
    updated_datetime: str | None
    expected_datetime: str | None
    address: str | None
    address_id: str | None
    zipcode: str | None
    lat: float | None
    long: float | None
    media_url: str | None


class RequestCreatedOut(BaseModel):
    """What POST requests answers: the id at once (every service is realtime), never a
    token, and the notice for the person (tracking code, emergency lines, instant answer)."""

    service_request_id: str
    service_notice: str


class TokenOut(BaseModel):
    service_request_id: str
    token: str


class ErrorOut(BaseModel):
    code: str
    description: str


class EndpointOut(BaseModel):
    specification: str
    url: str
    changeset: str
    type: str
    formats: list[str]


class DiscoveryOut(BaseModel):
    changeset: str
    contact: str
    key_service: str
    endpoints: list[EndpointOut]
