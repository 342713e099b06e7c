use sea_orm::entity::prelude::*;

/// A merchant's product batch and its public trace code.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "product_batches")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub merchant_id: Uuid,
    pub product_name: String,
    pub category: String,
    pub origin_region_code: String,
    pub batch_number: String,
    pub production_date: Date,
    pub quantity: i64,
    /// 16 Crockford base32 characters (80 random bits).
    #[sea_orm(unique)]
    pub trace_code: String,
    pub scan_count: i64,
    /// Sticky once tripped by the scan rules.
    pub suspected_counterfeit: bool,
    pub created_at: DateTimeUtc,
    /// The batch's GTIN in its 14-digit form; with it the QR code is a GS1 Digital Link.
    pub gtin: Option<String>,
    /// Best before / use by (China Standard Time); the trace page warns after it.
    pub expiry_date: Option<Date>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
