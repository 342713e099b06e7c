//! Who makes a change of a case.

use uuid::Uuid;

use crate::services::access::Scope;

/// Who makes a change, as the audit trail records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Actor {
    /// A user, possibly through an API client; `for_merchant`: a member or an agent acting for
    /// the case's merchant (its events record the merchant).
    Person { user_id: Uuid, via_client: Option<Uuid>, for_merchant: bool },
    /// The portal itself (automatic decisions, derived events): the audit actor is null.
    System,
}

impl Actor {
    pub fn of(scope: &Scope) -> Self {
        Self::Person {
            user_id: scope.user_id(),
            via_client: scope.via_client(),
            for_merchant: scope.acts_for_merchant(),
        }
    }

    /// The person, or `None` for the portal itself.
    pub fn user_id(self) -> Option<Uuid> {
        match self {
            Self::Person { user_id, .. } => Some(user_id),
            Self::System => None,
        }
    }

    pub(super) fn via_client(self) -> Option<Uuid> {
        match self {
            Self::Person { via_client, .. } => via_client,
            Self::System => None,
        }
    }
}
