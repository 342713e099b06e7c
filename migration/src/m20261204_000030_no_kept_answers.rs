use sea_orm_migration::prelude::*;

use crate::m20261202_000028_data_changed::{create_triggers, drop_triggers};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Kept answers are gone (issue 25: every read is computed), and with them the reason for
/// migration 28's triggers: no instance listens to `onestop_data_changed` any more, so every
/// write on PostgreSQL stops paying for a notification. Rolled back, the triggers return.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_triggers(manager).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        create_triggers(manager).await
    }
}
