use sea_orm::entity::prelude::*;

/// One decision on a filing — an officer's or a rule's — with the facts as they were then
/// (JSON), so drafts of decision rules can be replayed over real history.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "decision_records")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub filing_id: Uuid,
    pub case_id: Uuid,
    pub merchant_id: Uuid,
    pub agency: crate::enums::Agency,
    pub kind: crate::enums::FilingKind,
    pub region_code: String,
    /// APPROVED or REJECTED.
    pub outcome: crate::enums::FilingStatus,
    pub decided_by: crate::enums::DecidedBy,
    /// The officer (null for a rule).
    pub actor_id: Option<Uuid>,
    pub rule_id: Option<Uuid>,
    pub rule_version: Option<i32>,
    pub facts: String,
    pub at: DateTimeUtc,
    /// When the filing was first submitted.
    pub submitted_at: Option<DateTimeUtc>,
    /// Working days from submission to decision, correction pauses left out (China's holiday
    /// calendar applied); null for decisions recorded before it was kept.
    pub working_days: Option<i32>,
    /// Decided by the review deadline.
    pub on_time: Option<bool>,
    /// Corrections asked before the decision.
    pub correction_rounds: Option<i32>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
