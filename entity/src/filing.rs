use sea_orm::entity::prelude::*;

/// One agency's filing inside a case.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "filings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub case_id: Uuid,
    /// `REGISTRATION`, `CUSTOMS`, `INSPECTION`, `TAX`, `FX`.
    pub kind: crate::enums::FilingKind,
    pub agency: crate::enums::Agency,
    pub status: crate::enums::FilingStatus,
    /// Optimistic concurrency: every write checks and increments it.
    pub version: i32,
    /// The office (region) that reviews it; starts as the case's region.
    pub region_code: String,
    /// The kind's data as JSON; `None` until the merchant first saves it.
    pub data: Option<String>,
    pub assignee_id: Option<Uuid>,
    pub due_at: Option<DateTimeUtc>,
    /// Review time left when a correction was requested (the clock pauses meanwhile).
    pub paused_remaining_secs: Option<i64>,
    pub decision_note: Option<String>,
    pub certificate_number: Option<String>,
    /// The merchant's USCC, copied in when registration is approved (or from the profile).
    pub uscc: Option<String>,
    pub submitted_at: Option<DateTimeUtc>,
    pub decided_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// When the assignee was told the deadline is one working day away.
    pub reminder_sent_at: Option<DateTimeUtc>,
    /// When the supervisors were told the deadline passed.
    pub overdue_notified_at: Option<DateTimeUtc>,
    /// Who decided it (APPROVED / REJECTED): an officer or a decision rule.
    pub decided_by: Option<crate::enums::DecidedBy>,
    /// JSON: what the decision rules made of it at its last (re)submission.
    pub automatic_decision: Option<String>,
    /// Review time left when a correction was requested, in working days (the clock pauses
    /// meanwhile and resumes with this much). Older pauses kept seconds instead.
    pub paused_working_days: Option<i32>,
    /// NEW cases: the licence its approval issued. Change cases: the licence it changes.
    pub licence_id: Option<Uuid>,
    /// 跨省通办: the office where the merchant filed, when not its home region's.
    pub receiving_region_code: Option<String>,
    /// When that office acknowledged receipt (the filing then goes to `region_code`'s office).
    pub received_at: Option<DateTimeUtc>,
}

impl Model {
    /// Filed at another region's office and not yet acknowledged there.
    pub fn awaits_receipt(&self) -> bool {
        self.receiving_region_code.is_some() && self.received_at.is_none()
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
