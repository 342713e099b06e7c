use sea_orm::ConnectionTrait;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The generation of the decision rules: a `rule_counters` row `decisions`, bumped by every
/// decision-rule save, so each instance keeps the enabled rules in memory and reloads them
/// only when it moved (on this instance or another). Saves made before this migration are
/// covered too: every instance starts with an empty cache.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(
                "INSERT INTO rule_counters (name, value) SELECT 'decisions', 0 \
                 WHERE NOT EXISTS (SELECT 1 FROM rule_counters WHERE name = 'decisions')",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.get_connection().execute_unprepared("DELETE FROM rule_counters WHERE name = 'decisions'").await?;
        Ok(())
    }
}
