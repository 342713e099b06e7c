use sea_orm::entity::prelude::*;

/// What an approval issued: a registration (the USCC), a customs code, an inspection or FX
/// registration number, a tax registration (the USCC again). Unique per (kind, number); its
/// status changes through change cases, the expiry sweeper and a registration's cancellation.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "licences")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub merchant_id: Uuid,
    pub kind: crate::enums::FilingKind,
    pub agency: crate::enums::Agency,
    pub number: String,
    pub status: crate::enums::LicenceStatus,
    pub issued_at: DateTimeUtc,
    /// The last day it is valid (China Standard Time); `None` for kinds that do not expire.
    pub valid_until: Option<Date>,
    /// The filing whose approval issued it.
    pub filing_id: Uuid,
    /// When the owner was told it expires within 30 days / 7 days (each once).
    pub month_notice_at: Option<DateTimeUtc>,
    pub week_notice_at: Option<DateTimeUtc>,
    /// Every change checks and increments it.
    pub version: i32,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(belongs_to = "super::merchant::Entity", from = "Column::MerchantId", to = "super::merchant::Column::Id")]
    Merchant,
}

impl Related<super::merchant::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Merchant.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
