//! What a GraphQL document must pass before it runs, on HTTP and WebSocket alike — checked
//! once per request on the parsed document, outside the schema: how many aliases and root
//! fields it may have, whether it is one of the trusted operations of the production web
//! frontend (when configured), and the operation's label for logs and metrics.
//!
//! These were schema extensions; with any extension registered, async-graphql 7 sends every
//! field of every response through its extension chain (a registry lookup, a `ResolveInfo`
//! and a boxed future per field) although none of them looks at fields (issue 15). The
//! document parsed here is handed to the schema (`Request::set_parsed_query`), so it is parsed
//! once.

use std::collections::{HashMap, HashSet};

use async_graphql::{
    Name, Positioned, Request, ServerError, ServerResult,
    parser::types::{ExecutableDocument, FragmentDefinition, OperationType, Selection, SelectionSet},
};
use sha2::{Digest, Sha256};

fn refusal(code: &str, message: impl Into<String>) -> ServerError {
    let mut error = ServerError::new(message, None);
    error.extensions.get_or_insert_with(Default::default).set("code", code);
    error
}

/// The checks of every document, built once from the configuration.
pub struct Preflight {
    /// Documents already parsed and measured, by their text (clients send the same few).
    pub examined: ExaminedDocuments,
    /// Caps on the shape of a document that depth and complexity do not catch: many aliases
    /// of a cheap field (`a1: login … a99: login …`) and many root fields.
    pub max_aliases: usize,
    pub max_root_fields: usize,
    pub trusted: Option<TrustedOperations>,
}

impl Preflight {
    /// Resolves a persisted query, parses the document (kept in the request for the schema)
    /// and checks it.
    pub fn check(&self, request: &mut Request) -> ServerResult<Checked> {
        if let Some(trusted) = &self.trusted {
            trusted.resolve(request)?;
        }
        let examined = self.examined.examine(&request.query)?;
        request.set_parsed_query(examined.document.clone());
        let aliases = examined.aliases;
        if aliases > self.max_aliases {
            tracing::warn!(aliases, limit = self.max_aliases, "query refused: too many aliases");
            return Err(refusal(
                "TOO_MANY_ALIASES",
                format!("the query uses {aliases} aliases; at most {} are allowed", self.max_aliases),
            ));
        }
        let roots = examined.roots;
        if roots > self.max_root_fields {
            tracing::warn!(roots, limit = self.max_root_fields, "query refused: too many root fields");
            return Err(refusal(
                "TOO_MANY_ROOT_FIELDS",
                format!("the operation selects {roots} root fields; at most {} are allowed", self.max_root_fields),
            ));
        }
        Ok(Checked { label: examined.label.clone(), introspection_only: examined.introspection_only })
    }
}

/// A parsed document and what the checks read off it.
pub struct Examined {
    document: ExecutableDocument,
    aliases: usize,
    roots: usize,
    label: Option<String>,
    introspection_only: bool,
}

/// The last `KEPT` documents parsed, by their text: parsing took ≈ 6 % of the server's CPU per
/// review-queue request, and clients send the same few documents with different variables.
/// Only documents up to `KEPT_TEXT_BYTES` are kept, so the cache stays small whatever is sent.
pub struct ExaminedDocuments(std::sync::Mutex<lru::LruCache<String, std::sync::Arc<Examined>>>);

const KEPT: usize = 256;
const KEPT_TEXT_BYTES: usize = 8 * 1024;

impl Default for ExaminedDocuments {
    fn default() -> Self {
        Self(std::sync::Mutex::new(lru::LruCache::new(
            std::num::NonZeroUsize::new(KEPT).unwrap_or(std::num::NonZeroUsize::MIN),
        )))
    }
}

impl ExaminedDocuments {
    fn examine(&self, query: &str) -> ServerResult<std::sync::Arc<Examined>> {
        let keep = query.len() <= KEPT_TEXT_BYTES;
        if keep && let Some(kept) = self.0.lock().ok().and_then(|mut kept| kept.get(query).cloned()) {
            return Ok(kept);
        }
        let document = async_graphql::parser::parse_query(query)?;
        let examined = std::sync::Arc::new(Examined {
            aliases: count_aliases(&document),
            roots: max_root_fields(&document),
            label: label_of(&document),
            introspection_only: introspection_only(&document),
            document,
        });
        if keep && let Ok(mut kept) = self.0.lock() {
            kept.put(query.to_string(), examined.clone());
        }
        Ok(examined)
    }
}

/// What a document that passed is.
pub struct Checked {
    /// The operation's label for logs and metrics ("mutation login").
    pub label: Option<String>,
    /// Every root field of every operation is `__schema`, `__type` or `__typename`.
    pub introspection_only: bool,
}

fn introspection_only(document: &ExecutableDocument) -> bool {
    document.operations.iter().all(|(_, operation)| {
        operation.node.ty == OperationType::Query
            && operation.node.selection_set.node.items.iter().all(|item| match &item.node {
                Selection::Field(field) => field.node.name.node.starts_with("__"),
                _ => false,
            })
    })
}

/// Every alias written in the document (operations and fragments; each written once).
fn count_aliases(document: &ExecutableDocument) -> usize {
    fn in_set(set: &SelectionSet) -> usize {
        set.items
            .iter()
            .map(|item| match &item.node {
                Selection::Field(field) => {
                    usize::from(field.node.alias.is_some()) + in_set(&field.node.selection_set.node)
                }
                Selection::InlineFragment(fragment) => in_set(&fragment.node.selection_set.node),
                Selection::FragmentSpread(_) => 0,
            })
            .sum()
    }
    let in_operations: usize = document.operations.iter().map(|(_, op)| in_set(&op.node.selection_set.node)).sum();
    let in_fragments: usize = document.fragments.values().map(|f| in_set(&f.node.selection_set.node)).sum();
    in_operations + in_fragments
}

/// The largest number of root fields of any operation, fragments at the root expanded.
fn max_root_fields(document: &ExecutableDocument) -> usize {
    fn in_set(
        set: &SelectionSet,
        fragments: &HashMap<Name, Positioned<FragmentDefinition>>,
        seen: &mut HashSet<Name>,
    ) -> usize {
        set.items
            .iter()
            .map(|item| match &item.node {
                Selection::Field(_) => 1,
                Selection::InlineFragment(fragment) => in_set(&fragment.node.selection_set.node, fragments, seen),
                Selection::FragmentSpread(spread) => {
                    let name = &spread.node.fragment_name.node;
                    // A fragment that spreads itself is refused by validation later; count it once.
                    match fragments.get(name) {
                        Some(fragment) if seen.insert(name.clone()) => {
                            in_set(&fragment.node.selection_set.node, fragments, seen)
                        }
                        _ => 0,
                    }
                }
            })
            .sum()
    }
    document
        .operations
        .iter()
        .map(|(_, op)| in_set(&op.node.selection_set.node, &document.fragments, &mut HashSet::new()))
        .max()
        .unwrap_or(0)
}

/// Trusted operations (`ONESTOP_TRUSTED_OPERATIONS`): only documents whose SHA-256 is in the
/// manifest run. Clients may send the full text or, Automatic Persisted Queries style, only
/// `extensions.persistedQuery.sha256Hash`.
pub struct TrustedOperations {
    by_hash: HashMap<String, String>,
}

impl TrustedOperations {
    /// Reads a manifest: a JSON object from lowercase hex SHA-256 to the operation's exact text.
    /// Every hash is checked against its text so a stale manifest fails at start-up.
    pub fn load(path: &std::path::Path) -> anyhow::Result<Self> {
        let raw = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("ONESTOP_TRUSTED_OPERATIONS {}: {e}", path.display()))?;
        let manifest: HashMap<String, String> = serde_json::from_str(&raw).map_err(|e| {
            anyhow::anyhow!("ONESTOP_TRUSTED_OPERATIONS {}: not a JSON object of hash → query: {e}", path.display())
        })?;
        for (hash, query) in &manifest {
            if *hash != sha256_hex(query) {
                anyhow::bail!("ONESTOP_TRUSTED_OPERATIONS: {hash} is not the SHA-256 of its query");
            }
        }
        Ok(Self { by_hash: manifest })
    }

    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    fn resolve(&self, request: &mut Request) -> ServerResult<()> {
        let sent_hash = match request.extensions.remove("persistedQuery") {
            Some(value) => Some(persisted_hash(value)?),
            None => None,
        };
        if request.query.trim().is_empty() {
            let hash = sent_hash.ok_or_else(|| refusal("BAD_REQUEST", "the request has no query"))?;
            let query = self
                .by_hash
                .get(&hash)
                .ok_or_else(|| refusal("PERSISTED_QUERY_NOT_FOUND", "no trusted operation has this sha256Hash"))?;
            request.query = query.clone();
            return Ok(());
        }
        let hash = sha256_hex(&request.query);
        if sent_hash.is_some_and(|sent| sent != hash) {
            return Err(refusal("BAD_REQUEST", "sha256Hash does not match the query"));
        }
        if !self.by_hash.contains_key(&hash) {
            tracing::warn!(hash, "query refused: not a trusted operation");
            return Err(refusal("OPERATION_NOT_TRUSTED", "only the trusted operations may run on this server"));
        }
        Ok(())
    }
}

fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

fn persisted_hash(value: async_graphql::Value) -> ServerResult<String> {
    #[derive(serde::Deserialize)]
    struct PersistedQuery {
        version: i32,
        #[serde(rename = "sha256Hash")]
        sha256_hash: String,
    }
    let persisted: PersistedQuery = async_graphql::from_value(value)
        .map_err(|_| refusal("BAD_REQUEST", "extensions.persistedQuery must be {version: 1, sha256Hash}"))?;
    if persisted.version != 1 {
        return Err(refusal("BAD_REQUEST", "only persistedQuery version 1 is supported"));
    }
    Ok(persisted.sha256_hash.to_ascii_lowercase())
}

/// The operation type and first root field: bounded by the schema, unlike client-chosen
/// operation names, so the metric label set cannot be blown up by a client.
fn label_of(document: &ExecutableDocument) -> Option<String> {
    let (_, operation) = document.operations.iter().next()?;
    let kind = match operation.node.ty {
        OperationType::Query => "query",
        OperationType::Mutation => "mutation",
        OperationType::Subscription => "subscription",
    };
    let field = operation.node.selection_set.node.items.iter().find_map(|item| match &item.node {
        Selection::Field(field) => Some(field.node.name.node.to_string()),
        _ => None,
    })?;
    Some(format!("{kind} {field}"))
}
