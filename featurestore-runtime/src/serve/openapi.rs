//! `GET /openapi.json`: the API as an OpenAPI 3.0 document, written from
//! the declarations (feature set names and key columns are enumerated, so
//! a client generator or a fuzzer knows them).

use serde_json::{json, Value as Json};

use crate::registry::Registry;
use crate::spec::DataType;

fn key_schema(dtype: DataType) -> Json {
    match dtype {
        DataType::String => json!({ "type": "string" }),
        DataType::Int32 => json!({ "type": "integer", "format": "int32" }),
        DataType::Int64 => json!({ "type": "integer", "format": "int64" }),
        DataType::Bool => json!({ "type": "boolean" }),
        DataType::Date => json!({ "type": "string", "format": "date" }),
        _ => json!({}),
    }
}

/// The document, for the declarations of `registry`; `authenticated` adds
/// the bearer scheme to every route but `/health`.
pub(crate) fn document(
    registry: &Registry,
    version: &str,
    authenticated: bool,
    max_keys: usize,
) -> Json {
    let names: Vec<&str> = registry.feature_sets().iter().map(|f| f.name).collect();
    let references: Vec<String> = registry
        .feature_sets()
        .iter()
        .flat_map(|f| {
            f.outputs
                .iter()
                .map(move |o| format!("{}:{}", f.name, o.name))
        })
        .collect();
    let mut key_columns = serde_json::Map::new();
    for f in registry.feature_sets() {
        for k in f.keys {
            key_columns.insert(
                k.name.to_string(),
                json!({ "type": "array", "items": key_schema(k.dtype), "maxItems": max_keys }),
            );
        }
    }
    let error = json!({ "$ref": "#/components/responses/Error" });
    let security = if authenticated {
        json!([{ "bearer": [] }])
    } else {
        json!([])
    };
    let name_parameter = json!({
        "name": "name", "in": "path", "required": true,
        "schema": { "type": "string", "enum": names },
    });
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "featurestore feature server",
            "version": version,
            "description": "Online feature values of the declared feature sets, read from the online store.",
        },
        "security": security,
        "paths": {
            "/get-online-features": { "post": {
                "summary": "Feast's online feature lookup (request and response as Feast's feature server).",
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/GetOnlineFeaturesRequest" } } } },
                "responses": {
                    "200": { "description": "One result per entity column then per feature.", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/GetOnlineFeaturesResponse" } } } },
                    "400": error, "401": error, "404": error, "413": error, "503": error,
                },
            } },
            "/v1/feature-sets": { "get": {
                "summary": "Every feature set, as `features describe --json` prints it.",
                "responses": { "200": { "description": "The catalog.", "content": { "application/json": { "schema": { "type": "object" } } } }, "401": error },
            } },
            "/v1/feature-sets/{name}": { "get": {
                "summary": "One feature set, as `features describe NAME --json` prints it.",
                "parameters": [name_parameter],
                "responses": { "200": { "description": "The feature set.", "content": { "application/json": { "schema": { "type": "object" } } } }, "401": error, "404": error },
            } },
            "/v1/feature-sets/{name}/rows": { "post": {
                "summary": "The stored rows of many keys, typed.",
                "parameters": [name_parameter],
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/RowsRequest" } } } },
                "responses": {
                    "200": { "description": "`rows[i]` is the row of `keys[i]`, or null.", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/RowsResponse" } } } },
                    "400": error, "401": error, "404": error, "413": error, "503": error,
                },
            } },
            "/health": { "get": {
                "summary": "Ready: the online store answers and holds the declared columns.",
                "security": [],
                "responses": { "200": { "description": "Ready.", "content": { "application/json": { "schema": { "type": "object" } } } }, "503": error },
            } },
            "/metrics": { "get": {
                "summary": "Prometheus metrics.",
                "responses": { "200": { "description": "The text exposition format.", "content": { "text/plain": { "schema": { "type": "string" } } } }, "401": error },
            } },
            "/": { "get": {
                "summary": "The catalog as a page: sources, feature sets, datasets, lineage, freshness and quality plots.",
                "responses": { "200": { "description": "HTML.", "content": { "text/html": { "schema": { "type": "string" } } } }, "401": error },
            } },
            "/openapi.json": { "get": {
                "summary": "This document.",
                "responses": { "200": { "description": "OpenAPI 3.0.", "content": { "application/json": { "schema": { "type": "object" } } } }, "401": error },
            } },
        },
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
            "responses": {
                "Error": { "description": "What is wrong.", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
            },
            "schemas": {
                "Error": {
                    "type": "object", "required": ["error"],
                    "properties": { "error": { "type": "object", "required": ["code", "message"], "properties": {
                        "code": { "type": "string" }, "message": { "type": "string" } } } },
                },
                "GetOnlineFeaturesRequest": {
                    "type": "object", "required": ["features", "entities"], "additionalProperties": false,
                    "properties": {
                        "features": { "type": "array", "minItems": 1, "items": { "type": "string", "enum": references } },
                        "entities": { "type": "object", "properties": key_columns, "additionalProperties": false },
                        "full_feature_names": { "type": "boolean" },
                    },
                },
                "GetOnlineFeaturesResponse": {
                    "type": "object", "required": ["metadata", "results"],
                    "properties": {
                        "metadata": { "type": "object", "properties": { "feature_names": { "type": "array", "items": { "type": "string" } } } },
                        "results": { "type": "array", "items": { "type": "object", "properties": {
                            "values": { "type": "array", "items": {} },
                            "statuses": { "type": "array", "items": { "type": "string", "enum": ["PRESENT", "NULL_VALUE", "NOT_FOUND", "OUTSIDE_MAX_AGE"] } },
                            "event_timestamps": { "type": "array", "items": { "type": "string", "format": "date-time" } },
                        } } },
                    },
                },
                "RowsRequest": {
                    "type": "object", "required": ["keys"], "additionalProperties": false,
                    "properties": { "keys": { "type": "array", "maxItems": max_keys, "items": { "type": "object" } } },
                },
                "RowsResponse": {
                    "type": "object", "required": ["feature_set", "found", "rows"],
                    "properties": {
                        "feature_set": { "type": "string" },
                        "found": { "type": "integer" },
                        "rows": { "type": "array", "items": { "type": "object", "nullable": true } },
                    },
                },
            },
        },
    })
}
