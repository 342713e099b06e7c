use sea_orm::entity::prelude::*;

/// A quality spot check (抽检) recorded by an inspection officer.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "spot_checks")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub merchant_id: Uuid,
    pub batch_id: Option<Uuid>,
    /// `ONLINE` (bought from the web store) or `OFFLINE` (market sample).
    pub channel: String,
    pub category: String,
    pub region_code: String,
    /// `PASS` or `FAIL`.
    pub result: String,
    pub findings: Option<String>,
    pub checked_at: DateTimeUtc,
    pub officer_id: Uuid,
    /// The recording officer's agency (what public views name instead of the officer).
    pub agency: crate::enums::Agency,
    /// The 双随机 draw this check answers (one check per draw).
    pub draw_id: Option<Uuid>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
