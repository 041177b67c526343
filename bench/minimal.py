"""The minimal reference app that `make bench` measures Nearbank's endpoints against.

What an afternoon's version of the nearby search would be: plain Flask, no validation framework,
no extensions, one psycopg connection per server thread (what a pool hands each thread), one
prepared KNN + `ST_DWithin` statement with the spheroid distance and the bearing, rows -> dicts
-> `json.dumps`, the same GeoJSON shape (the same columns and property names; the properties
Nearbank computes from opening hours and repayment cut-offs are left null here). It checks
nothing, proves no order and makes no cursor. Routes:

- `/nearby`: the FeatureCollection built in Python;
- `/nearby-pg`: the same query, PostgreSQL builds the document (`json_build_object`/`json_agg`);
- `/healthz`: `{"status": "ok"}`, bare Flask under the same gunicorn.

Served by `gunicorn --config python:backend.gunicorn_conf bench.minimal:app`, with the same
DATABASE_URL as Nearbank.
"""

from __future__ import annotations

import json
import os
import threading

import psycopg
from flask import Flask, Response, request
from psycopg.rows import dict_row

_POINT = "ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326)::geography"
_SELECT = f"""
SELECT p.public_id::text AS id, p.kind, p.name, p.brand, p.street, p.locality, p.region,
       p.postcode, p.country, p.timezone, p.services, p.accessibility, p.repayment_methods,
       p.repayment_fee::text AS repayment_fee, p.repayment_fee_currency, p.repayment_posting,
       p.repayment_cutoff::text AS repayment_cutoff, p.phone, p.status,
       p.last_verified_at, p.opening_hours::text AS opening_hours,
       ST_Y(p.location::geometry) AS lat, ST_X(p.location::geometry) AS lon,
       ST_Distance(p.location, {_POINT}) AS distance_m,
       degrees(ST_Azimuth({_POINT}, p.location)) AS bearing_deg
FROM places p
WHERE ST_DWithin(p.location, {_POINT}, %(radius_m)s) AND p.status <> 'decommissioned'
ORDER BY p.location <-> {_POINT}
LIMIT %(limit)s
"""
NEARBY_SQL = _SELECT
NEARBY_PG_SQL = f"""
SELECT json_build_object('type', 'FeatureCollection', 'features', coalesce(json_agg(
  json_build_object(
    'type', 'Feature', 'id', r.id,
    'geometry', json_build_object('type', 'Point',
                                  'coordinates', json_build_array(round(r.lon::numeric, 7),
                                                                  round(r.lat::numeric, 7))),
    'properties', json_build_object(
      'id', r.id, 'kind', r.kind, 'name', r.name, 'brand', r.brand,
      'address', json_build_object('street', r.street, 'locality', r.locality,
                                   'region', r.region, 'postcode', r.postcode,
                                   'country', r.country),
      'status', r.status, 'timezone', r.timezone, 'services', r.services,
      'accessibility', r.accessibility, 'phone', r.phone,
      'last_verified_at', r.last_verified_at,
      'distance_m', round(r.distance_m::numeric, 1),
      'bearing_deg', round(r.bearing_deg::numeric, 1),
      'open_now', NULL, 'next_change', NULL, 'closes_soon', false,
      'repayment', CASE WHEN cardinality(r.repayment_methods) > 0 THEN json_build_object(
        'methods', r.repayment_methods, 'fee', r.repayment_fee,
        'currency', r.repayment_fee_currency, 'posting', r.repayment_posting,
        'cutoff', r.repayment_cutoff) END)
  )), '[]'::json), 'count', count(*), 'next_cursor', NULL)::text
FROM ({_SELECT}) r
"""

app = Flask(__name__)
_DSN = os.environ["DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://", 1)
_local = threading.local()


def _connection() -> psycopg.Connection:
    conn = getattr(_local, "conn", None)
    if conn is None or conn.closed:
        conn = _local.conn = psycopg.connect(_DSN, autocommit=True,
                                             application_name="nearbank-reference")
    return conn


def _params() -> dict:
    args = request.args
    return {"lat": float(args["lat"]), "lon": float(args["lon"]),
            "radius_m": float(args.get("radius_m", 5000)), "limit": int(args.get("limit", 20))}


def _feature(row: dict) -> dict:
    methods = row["repayment_methods"]
    return {
        "type": "Feature", "id": row["id"],
        "geometry": {"type": "Point", "coordinates": [round(row["lon"], 7), round(row["lat"], 7)]},
        "properties": {
            "id": row["id"], "kind": row["kind"], "name": row["name"], "brand": row["brand"],
            "address": {"street": row["street"], "locality": row["locality"],
                        "region": row["region"], "postcode": row["postcode"],
                        "country": row["country"]},
            "status": row["status"], "timezone": row["timezone"], "services": row["services"],
            "accessibility": row["accessibility"], "phone": row["phone"],
            "last_verified_at": row["last_verified_at"].isoformat()
            if row["last_verified_at"] else None,
            "distance_m": round(row["distance_m"], 1),
            "bearing_deg": None if row["bearing_deg"] is None else round(row["bearing_deg"], 1),
            "open_now": None, "next_change": None, "closes_soon": False,
            "repayment": {"methods": methods, "fee": row["repayment_fee"],
                          "currency": row["repayment_fee_currency"],
                          "posting": row["repayment_posting"],
                          "cutoff": row["repayment_cutoff"]} if methods else None,
        },
    }


@app.get("/nearby")
def nearby():
    """The nearest places, the document built in Python."""
    with _connection().cursor(row_factory=dict_row) as cur:
        rows = cur.execute(NEARBY_SQL, _params(), prepare=True).fetchall()
    features = [_feature(row) for row in rows]
    body = json.dumps({"type": "FeatureCollection", "features": features,
                       "count": len(features), "next_cursor": None})
    return Response(body, mimetype="application/json")


@app.get("/nearby-pg")
def nearby_pg():
    """The nearest places, the document built by PostgreSQL."""
    row = _connection().execute(NEARBY_PG_SQL, _params(), prepare=True).fetchone()
    return Response(row[0], mimetype="application/json")


@app.get("/healthz")
def healthz():
    """The process is up."""
    return {"status": "ok"}
