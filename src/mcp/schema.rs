//! The tools' schemas and the reading of their arguments.
//!
//! Output schemas are the HTTP API's own: the OpenAPI schema utoipa generates from the
//! library's response types (`SearchResponse`, `Paper`, ...), turned into a self-contained
//! JSON Schema (OpenAPI 3.1 schemas are JSON Schema 2020-12; only the references move, from
//! `#/components/schemas/` to `#/$defs/`). So `/api/openapi.json` and `tools/list` describe one
//! shape, from one definition.
//!
//! Input schemas come from the argument structs (schemars). Arguments are read here rather
//! than by rmcp's `Parameters`, whose failure is a protocol error that an assistant's client
//! shows as an opaque failure: a wrong type, a missing or an unknown argument is a tool error
//! naming the argument, which the assistant can read and correct.

use std::sync::Arc;

use rmcp::model::JsonObject;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// What was wrong with a tool call's arguments, naming the argument when one is at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgumentError {
    /// The argument at fault, when one is.
    pub parameter: Option<String>,
    /// What is wrong, and what would be accepted.
    pub reason: String,
}

/// The input schema of a tool whose arguments are `T`: an object schema, draft 2020-12.
pub fn input<T: JsonSchema + 'static>() -> Arc<JsonObject> {
    match rmcp::handler::server::tool::schema_for_input::<T>() {
        Ok(schema) => schema,
        // Only a type whose schema is not an object fails, and every argument type is a
        // struct (a unit test lists every tool's schema): an empty object still lists the tool.
        Err(_) => rmcp::handler::server::common::schema_for_empty_input(),
    }
}

/// The output schema of a tool that answers `T`, from the same utoipa definition as the HTTP
/// API's OpenAPI document.
pub fn output<T: utoipa::ToSchema>() -> Arc<JsonObject> {
    let mut referenced = Vec::new();
    T::schemas(&mut referenced);
    let mut root = serde_json::to_value(T::schema()).unwrap_or(Value::Null);
    let mut defs = serde_json::Map::new();
    for (name, schema) in referenced {
        defs.insert(name, serde_json::to_value(schema).unwrap_or(Value::Null));
    }
    let mut object = match root.take() {
        Value::Object(object) => object,
        // utoipa writes every schema as an object; an output schema must be one.
        _ => JsonObject::from_iter([("type".to_string(), Value::from("object"))]),
    };
    if !defs.is_empty() {
        object.insert("$defs".into(), Value::Object(defs));
    }
    let mut value = Value::Object(object);
    move_references(&mut value);
    match value {
        Value::Object(object) => Arc::new(object),
        _ => Arc::new(JsonObject::new()),
    }
}

/// Rewrites OpenAPI component references into references to the schema's own `$defs`, and
/// tuples into arrays of fixed length.
///
/// utoipa writes a tuple (`highlights`: `(usize, usize)` pairs) as `prefixItems` with
/// `items: false`, which is right in draft 2020-12, but the official TypeScript SDK validates
/// structured content with Ajv's draft-07 default, which knows no `prefixItems` and so reads
/// "no items at all": the MCP Inspector refused every search answer. `items: {anyOf: ...}`
/// with `minItems` = `maxItems` means the same to both drafts for tuples of one type.
fn move_references(value: &mut Value) {
    match value {
        Value::Object(object) => {
            if let Some(Value::Array(positions)) = object.remove("prefixItems") {
                object.insert("minItems".into(), Value::from(positions.len()));
                object.insert("maxItems".into(), Value::from(positions.len()));
                let mut kinds: Vec<Value> = Vec::new();
                for kind in positions {
                    if !kinds.contains(&kind) {
                        kinds.push(kind);
                    }
                }
                let items = match kinds.len() {
                    1 => kinds.remove(0),
                    _ => serde_json::json!({ "anyOf": kinds }),
                };
                object.insert("items".into(), items);
            }
            for (key, inner) in object.iter_mut() {
                match inner {
                    Value::String(target) if key == "$ref" => {
                        if let Some(name) = target.strip_prefix("#/components/schemas/") {
                            *target = format!("#/$defs/{name}");
                        }
                    }
                    _ => move_references(inner),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(move_references),
        _ => {}
    }
}

/// Reads a tool's arguments as `T`: an argument the schema does not list, one of the wrong
/// type or a missing one is an error naming it.
pub fn read<T: DeserializeOwned + JsonSchema + 'static>(
    arguments: JsonObject,
) -> Result<T, ArgumentError> {
    let schema = input::<T>();
    let known: Vec<&str> = schema
        .get("properties")
        .and_then(Value::as_object)
        .map(|p| p.keys().map(String::as_str).collect())
        .unwrap_or_default();
    if let Some(unknown) = arguments.keys().find(|k| !known.contains(&k.as_str())) {
        let reason = if known.is_empty() {
            "unknown argument: this tool takes none".to_string()
        } else {
            format!("unknown argument (this tool takes {})", known.join(", "))
        };
        return Err(ArgumentError {
            parameter: Some(unknown.clone()),
            reason,
        });
    }
    serde_path_to_error::deserialize(Value::Object(arguments)).map_err(|error| {
        let path = error.path().to_string();
        let reason = error.inner().to_string();
        // A missing argument fails at the top ("."), named in serde's message.
        let parameter = if path == "." {
            reason
                .strip_prefix("missing field `")
                .and_then(|rest| rest.split('`').next())
                .map(str::to_string)
        } else {
            Some(path)
        };
        let reason = match &parameter {
            Some(name) if reason.starts_with("missing field") => {
                format!("required: {}", describe(&schema, name))
            }
            _ => reason,
        };
        ArgumentError { parameter, reason }
    })
}

/// The description the schema gives of property `name`, or its name.
fn describe(schema: &JsonObject, name: &str) -> String {
    schema
        .get("properties")
        .and_then(|p| p.get(name))
        .and_then(|p| p.get("description"))
        .and_then(Value::as_str)
        .map_or_else(|| name.to_string(), str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mcp::args::{SearchArgs, TopicArgs};
    use crate::search::SearchResponse;

    fn object(value: Value) -> JsonObject {
        match value {
            Value::Object(object) => object,
            other => panic!("not an object: {other}"),
        }
    }

    #[test]
    fn argument_errors_name_the_argument() {
        let cases = [
            (serde_json::json!({"query": "x", "limt": 3}), "limt"),
            (serde_json::json!({"query": "x", "limit": "ten"}), "limit"),
            (serde_json::json!({"query": "x", "offset": -1}), "offset"),
            (serde_json::json!({"query": 42}), "query"),
            (serde_json::json!({"mode": "bm25"}), "query"),
        ];
        for (value, name) in cases {
            let error = read::<SearchArgs>(object(value.clone())).expect_err("refused");
            assert_eq!(error.parameter.as_deref(), Some(name), "{value}: {error:?}");
        }
        let error = read::<TopicArgs>(JsonObject::new()).expect_err("id is required");
        assert_eq!(error.parameter.as_deref(), Some("id"));
        assert!(error.reason.starts_with("required: "), "{}", error.reason);
    }

    #[test]
    fn the_output_schema_is_the_openapi_one_self_contained() {
        let schema = Value::Object(output::<SearchResponse>().as_ref().clone());
        assert_eq!(schema["type"], "object");
        assert!(schema["properties"]["results"].is_object(), "{schema}");
        let text = schema.to_string();
        assert!(!text.contains("#/components/"), "{text}");
        // Every reference resolves inside the schema.
        for name in text.split("\"#/$defs/").skip(1) {
            let name = name.split('"').next().unwrap_or_default();
            assert!(
                schema["$defs"][name].is_object(),
                "{name} unresolved: {text}"
            );
        }
        assert!(schema["$defs"]["SearchResult"]["properties"]["url"].is_object());
        let input = input::<SearchArgs>();
        assert_eq!(input["required"], serde_json::json!(["query"]), "{input:?}");
        // Tuples are arrays of fixed length, which draft-07 validators read the same way.
        assert!(!text.contains("prefixItems"), "{text}");
        let pair = &schema["$defs"]["SearchResult"]["properties"]["highlights"]["items"];
        assert_eq!(pair["minItems"], 2, "{pair}");
        assert!(pair["items"].is_object(), "{pair}");
    }
}
