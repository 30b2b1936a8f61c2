"""Open311 GeoReport v2 under `/open311/v2/`: services from the catalogue, requests from
tickets, so existing civic-tech clients work with Minyi."""
