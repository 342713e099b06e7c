//! `GET /graphql/ws`: subscriptions (graphql-transport-ws, and the older graphql-ws), with the
//! caller re-checked for the life of the socket.
//!
//! A socket outlives the moment its token was checked: the token expires, an API client is
//! revoked, an officer's regions are narrowed. So the caller is checked again before every
//! operation, before every event is sent, and every `ONESTOP_WS_RECHECK_SECS` while idle —
//! against the database, so a revocation made on another instance counts at once. The socket
//! closes with 4401 when the token expired or no longer verifies, and with 4403 when access was
//! revoked or narrowed; nothing is sent after the check fails.

use std::{sync::Arc, time::Duration};

use async_graphql::{Data, Executor, Request, Response, ServerError, http::WebSocketProtocols};
use futures_util::{SinkExt, StreamExt, stream::BoxStream};
use poem::web::websocket::{Message, WebSocketStream};
use tokio::sync::watch;

use crate::{
    error::AppError,
    graphql::{Api, Preloaded, ScopeCache},
    http::ClientAddress,
    platform::{state::AppState, writes},
    services::access::{self, Scope},
    services::auth::{Caller, Principal, jwt::TokenError},
};

/// Why the socket must close.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Close {
    pub code: u16,
    pub reason: &'static str,
}

const EXPIRED: Close = Close { code: 4401, reason: "access token expired" };
const INVALID: Close = Close { code: 4401, reason: "access token no longer valid" };
const REVOKED: Close = Close { code: 4403, reason: "access revoked" };
/// A sleep that never ends in practice (for a socket without a token).
const FAR_FUTURE: Duration = Duration::from_secs(365 * 24 * 3600);
const NARROWED: Close = Close { code: 4403, reason: "access narrowed" };

/// Who opened the socket, as established at `connection_init`.
struct Holder {
    token: String,
    principal: Principal,
    /// The widest scope any operation of this socket has been given: a later check must still
    /// cover it (access widened and then narrowed again must close the socket too).
    widest: std::sync::Mutex<Scope>,
}

/// Why a check did not pass.
#[derive(Debug)]
pub enum Failure {
    /// The caller's access ended: the socket closes.
    Close(Close),
    /// The database could not answer; nothing is sent unchecked.
    Unavailable,
}

const UNAVAILABLE: Close = Close { code: 1011, reason: "service unavailable; reconnect shortly" };

/// The socket's caller and its close signal, shared by the serve loop and every operation.
pub struct SocketGuard {
    state: AppState,
    holder: std::sync::OnceLock<Holder>,
    close: watch::Sender<Option<Close>>,
}

impl SocketGuard {
    fn new(state: AppState) -> Arc<Self> {
        Arc::new(Self { state, holder: std::sync::OnceLock::new(), close: watch::channel(None).0 })
    }

    /// `connection_init`: verifies the token (if any) and records what it reaches.
    async fn init(&self, payload: serde_json::Value, address: Option<ClientAddress>) -> async_graphql::Result<Data> {
        let token = payload
            .get("Authorization")
            .or_else(|| payload.get("authorization"))
            .and_then(|v| v.as_str())
            .map(|v| v.trim_start_matches("Bearer ").trim_start_matches("bearer ").to_string())
            .or_else(|| payload.get("accessToken").and_then(|v| v.as_str()).map(str::to_string));
        let caller = match token {
            None => Caller::Anonymous,
            Some(token) => {
                let principal = self
                    .state
                    .jwt
                    .verify(&token)
                    .map_err(|_| async_graphql::Error::new("access token is invalid or expired"))?;
                let caller = Caller::User(principal.clone());
                let scope = access::load_scope(&self.state.db, &caller)
                    .await
                    .map_err(|e| async_graphql::Error::new(e.message()))?;
                let _ = self.holder.set(Holder { token, principal, widest: std::sync::Mutex::new(scope) });
                caller
            }
        };
        let mut data = Data::default();
        if let Some(address) = address {
            data.insert(address);
        }
        data.insert(caller);
        Ok(data)
    }

    /// When the token expires (`None`: anonymous, or not initialised yet).
    fn expires_at(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        self.holder.get().and_then(|h| chrono::DateTime::from_timestamp(h.principal.expires_at, 0))
    }

    fn signal(&self, close: Close) -> Failure {
        tracing::info!(code = close.code, reason = close.reason, "closing a live socket");
        self.close.send_replace(Some(close.clone()));
        Failure::Close(close)
    }

    /// The caller's scope as it stands now (`None` for an anonymous socket). When the access
    /// ended the socket is told to close; a database that cannot answer is a `Unavailable`
    /// failure (the caller did nothing wrong, but nothing may be sent unchecked).
    pub async fn check(&self) -> Result<Option<Scope>, Failure> {
        let Some(holder) = self.holder.get() else { return Ok(None) };
        let principal = match self.state.jwt.verify(&holder.token) {
            Err(TokenError::Expired) => return Err(self.signal(EXPIRED)),
            Err(TokenError::Invalid) => return Err(self.signal(INVALID)),
            Ok(p) if chrono::Utc::now().timestamp() >= p.expires_at => return Err(self.signal(EXPIRED)),
            Ok(p) => p,
        };
        let widest = holder.widest.lock().map(|w| w.clone()).map_err(|_| Failure::Unavailable)?;
        let now = match current_scope(&self.state, &principal, &widest).await {
            Ok(now) => now,
            Err(AppError::Unauthenticated(_) | AppError::Forbidden(_) | AppError::NotFound(_)) => {
                return Err(self.signal(REVOKED));
            }
            Err(err) => {
                tracing::warn!(error = %err.detail(), "live socket: caller check failed");
                return Err(Failure::Unavailable);
            }
        };
        if !now.covers(&widest) {
            return Err(self.signal(NARROWED));
        }
        if let Ok(mut slot) = holder.widest.lock() {
            *slot = now.clone();
        }
        Ok(Some(now))
    }
}

/// What the caller reaches now. An agency's API client reaches every region its agency has
/// filings in, which changes as filings move; only the client's revocation narrows it, and
/// that is all that is looked up (not every region of every filing, at every event).
async fn current_scope(state: &AppState, principal: &Principal, widest: &Scope) -> Result<Scope, AppError> {
    if let Scope::Agency { via_client: Some(client), .. } = widest {
        return match crate::services::auth::clients::is_active(&state.db, *client).await? {
            true => Ok(widest.clone()),
            false => Err(AppError::Unauthenticated("this API client was revoked".into())),
        };
    }
    access::load_scope(&state.db, &Caller::User(principal.clone())).await
}

/// The schema, with the caller re-checked before each operation and before each response of
/// it.
#[derive(Clone)]
struct GuardedSchema {
    api: Api,
    guard: Arc<SocketGuard>,
}

fn refused(failure: Failure) -> Response {
    let (code, message) = match failure {
        Failure::Close(close) if close.code == 4401 => ("UNAUTHENTICATED", close.reason),
        Failure::Close(close) => ("FORBIDDEN", close.reason),
        Failure::Unavailable => ("SERVICE_UNAVAILABLE", "service temporarily unavailable, retry shortly"),
    };
    let mut error = ServerError::new(message, None);
    error.extensions.get_or_insert_with(Default::default).set("code", code);
    Response::from_errors(vec![error])
}

/// The operation's scope: the one the check just read (anonymous sockets load nothing).
fn scope_cache(scope: Option<Scope>) -> ScopeCache {
    scope.map(ScopeCache::with).unwrap_or_default()
}

impl Executor for GuardedSchema {
    async fn execute(&self, request: Request) -> Response {
        match self.guard.check().await {
            Ok(scope) => {
                let mut request = request.data(scope_cache(scope)).data(Preloaded::default());
                match self.api.preflight.check(&mut request) {
                    Ok(_) => {
                        let state = &self.guard.state;
                        let (response, _) =
                            writes::watching(self.api.schema.execute(request), |w| state.forget(w)).await;
                        response
                    }
                    Err(refusal) => Response::from_errors(vec![refusal]),
                }
            }
            Err(failure) => refused(failure),
        }
    }

    fn execute_stream(&self, request: Request, session_data: Option<Arc<Data>>) -> BoxStream<'static, Response> {
        let (api, guard) = (self.api.clone(), self.guard.clone());
        let operation = async move {
            let scope = match guard.check().await {
                Ok(scope) => scope,
                Err(failure) => {
                    return futures_util::stream::once(futures_util::future::ready(refused(failure))).boxed();
                }
            };
            // The operation works with exactly the scope just checked, never an older copy.
            let mut request = request.data(scope_cache(scope)).data(Preloaded::default());
            if let Err(refusal) = api.preflight.check(&mut request) {
                return futures_util::stream::once(futures_util::future::ready(Response::from_errors(vec![refusal])))
                    .boxed();
            }
            Executor::execute_stream(&api.schema, request, session_data)
                .then(move |response| {
                    let guard = guard.clone();
                    async move {
                        match guard.check().await {
                            Ok(_) => Some(response),
                            // Unchecked data is never sent: without a database answer the
                            // socket closes (1011) and the client reconnects.
                            Err(Failure::Unavailable) => {
                                guard.signal(UNAVAILABLE);
                                None
                            }
                            Err(Failure::Close(_)) => None,
                        }
                    }
                })
                // The first failed check ends the operation (and the socket closes).
                .take_while(|response| futures_util::future::ready(response.is_some()))
                .filter_map(futures_util::future::ready)
                .boxed()
        };
        futures_util::stream::once(operation).flatten().boxed()
    }
}

/// Serves one socket until the client leaves or the caller's access ends.
pub async fn serve(
    socket: WebSocketStream,
    api: Api,
    state: AppState,
    protocol: WebSocketProtocols,
    address: Option<ClientAddress>,
) {
    let recheck_every = state.config.ws_recheck_interval;
    let guard = SocketGuard::new(state);
    let mut closing = guard.close.subscribe();
    let (mut sink, incoming) = socket.split();
    let incoming = incoming
        .take_while(|message| futures_util::future::ready(message.is_ok()))
        .filter_map(|message| futures_util::future::ready(message.ok().filter(|m| m.is_text() || m.is_binary())))
        .map(Message::into_bytes);
    let init_guard = guard.clone();
    let executor = GuardedSchema { api, guard: guard.clone() };
    let outgoing = async_graphql::http::WebSocket::new(executor, incoming, protocol)
        .on_connection_init(move |payload| async move { init_guard.init(payload, address).await })
        .map(|message| match message {
            async_graphql::http::WsMessage::Text(text) => Message::text(text),
            async_graphql::http::WsMessage::Close(code, reason) => Message::close_with(code, reason),
        });
    futures_util::pin_mut!(outgoing);
    let mut recheck = tokio::time::interval(recheck_every);
    recheck.tick().await;
    loop {
        let expiry = guard.expires_at().map(|at| (at - chrono::Utc::now()).to_std().unwrap_or(Duration::ZERO));
        tokio::select! {
            message = outgoing.next() => match message {
                Some(message) => if sink.send(message).await.is_err() { return },
                None => return,
            },
            _ = closing.changed() => break,
            _ = tokio::time::sleep(expiry.unwrap_or(FAR_FUTURE)), if expiry.is_some() => {
                guard.close.send_replace(Some(EXPIRED));
                break;
            }
            _ = recheck.tick() => {
                let _ = guard.check().await;
            }
        }
    }
    let close = guard.close.borrow().clone().unwrap_or(REVOKED);
    let _ = sink.send(Message::close_with(close.code, close.reason)).await;
    let _ = sink.close().await;
}
