//! The served schema by introspection, and values of the right (or wrong) shape for any
//! argument: so sweeps over "every mutation" or "every public query" cover what lands later
//! without editing the tests.

use serde_json::{Map, Value, json};

use crate::helpers::TestApp;

const INTROSPECTION: &str = r#"{
  __schema {
    queryType { fields { name args { name type { ...T } } type { ...T } } }
    mutationType { fields { name args { name type { ...T } } type { ...T } } }
    types {
      name kind isOneOf enumValues { name } inputFields { name type { ...T } }
      fields { name args { name type { ...T } } type { ...T } } possibleTypes { name }
    }
  }
}
fragment T on __Type { kind name ofType { kind name ofType { kind name ofType { kind name } } } }"#;

pub struct Schema {
    /// By name: every type of the schema as introspection describes it.
    pub types: Map<String, Value>,
    /// `__schema` itself (`queryType`, `mutationType`).
    pub root: Value,
}

/// The innermost named type of a type reference.
pub fn named(t: &Value) -> (&str, &str) {
    match t["ofType"].is_object() {
        true => named(&t["ofType"]),
        false => (t["kind"].as_str().unwrap_or_default(), t["name"].as_str().unwrap_or_default()),
    }
}

/// The type as written in a variable definition, e.g. `[String!]!`.
pub fn written(t: &Value) -> String {
    match t["kind"].as_str() {
        Some("NON_NULL") => format!("{}!", written(&t["ofType"])),
        Some("LIST") => format!("[{}]", written(&t["ofType"])),
        _ => t["name"].as_str().unwrap_or_default().to_string(),
    }
}

impl Schema {
    /// Introspects the served schema (as `token`, or anonymously).
    pub async fn load(app: &TestApp, token: Option<&str>) -> Self {
        let introspected = app.gql(INTROSPECTION, json!({}), token).await;
        let root = introspected.data()["__schema"].clone();
        let types = root["types"]
            .as_array()
            .expect("types")
            .iter()
            .map(|t| (t["name"].as_str().unwrap_or_default().to_string(), t.clone()))
            .collect();
        Self { types, root }
    }

    /// A value of the right shape that the server may still refuse on content.
    pub fn plausible(&self, t: &Value, depth: usize) -> Value {
        match t["kind"].as_str() {
            Some("NON_NULL") => self.plausible(&t["ofType"], depth),
            Some("LIST") => json!([self.plausible(&t["ofType"], depth)]),
            _ => {
                let (kind, name) = named(t);
                match (kind, name) {
                    ("SCALAR", "Int") => json!(1),
                    ("SCALAR", "Float") => json!(1.5),
                    ("SCALAR", "Boolean") => json!(true),
                    ("SCALAR", "ID") => json!("0192f1c2-7a3b-7c4d-8e5f-0123456789ab"),
                    ("SCALAR", "Decimal") => json!("100.00"),
                    ("SCALAR", "Date") => json!("2026-09-01"),
                    ("SCALAR", "DateTime") => json!("2026-09-01T00:00:00Z"),
                    ("SCALAR", "Upload") => Value::Null,
                    ("SCALAR", _) => json!("x"),
                    ("ENUM", _) => self.types[name]["enumValues"][0]["name"].clone(),
                    ("INPUT_OBJECT", _) if depth < 4 => self.plausible_object(name, depth + 1),
                    _ => Value::Null,
                }
            }
        }
    }

    pub fn plausible_object(&self, name: &str, depth: usize) -> Value {
        let ty = &self.types[name];
        let fields = ty["inputFields"].as_array().cloned().unwrap_or_default();
        let mut object = Map::new();
        for field in &fields {
            let required = field["type"]["kind"] == "NON_NULL";
            // A @oneOf input takes exactly one field: the first.
            if required || (ty["isOneOf"] == true && object.is_empty()) {
                object.insert(field["name"].as_str().unwrap_or_default().into(), self.plausible(&field["type"], depth));
            }
        }
        Value::Object(object)
    }

    /// A value of the wrong GraphQL type.
    pub fn wrong(&self, t: &Value) -> Value {
        let (kind, name) = named(t);
        match (kind, name) {
            ("SCALAR", "Int" | "Float") => json!("twelve"),
            ("SCALAR", "Boolean") => json!("yes"),
            ("SCALAR", _) => json!({ "not": "a scalar" }),
            ("ENUM", _) => json!("NOT_A_VALUE_OF_THIS_ENUM"),
            _ => json!(42),
        }
    }

    /// Paths (within the argument's value) of every string-like and Int leaf, to abuse.
    pub fn leaves(&self, t: &Value, path: Vec<String>, depth: usize, out: &mut Vec<(Vec<String>, &'static str)>) {
        let (kind, name) = named(t);
        match (kind, name) {
            ("SCALAR", "Int") => out.push((path, "Int")),
            ("SCALAR", "String" | "ID" | "Decimal" | "Date" | "DateTime") => out.push((path, "String")),
            ("INPUT_OBJECT", _) if depth < 4 => {
                let ty = &self.types[name];
                let value = self.plausible_object(name, depth + 1);
                for field in ty["inputFields"].as_array().into_iter().flatten() {
                    let field_name = field["name"].as_str().unwrap_or_default();
                    if value.get(field_name).is_some() {
                        let mut deeper = path.clone();
                        deeper.push(field_name.to_string());
                        self.leaves(&field["type"], deeper, depth + 1, out);
                    }
                }
            }
            _ => {}
        }
    }
}
