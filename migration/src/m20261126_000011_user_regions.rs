use sea_orm_migration::{prelude::*, schema::*, sea_orm::DatabaseBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Officers' and supervisors' regions as rows (`user_regions`) instead of a JSON text column,
/// so "the supervisors of a region" is an indexed join, not a substring match. The rows are
/// filled from `users.regions`, which is then dropped.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(UserRegions::Table)
                    .col(uuid(UserRegions::UserId))
                    .col(string_len(UserRegions::RegionCode, 6))
                    .primary_key(Index::create().col(UserRegions::UserId).col(UserRegions::RegionCode))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_user_regions_user")
                            .from(UserRegions::Table, UserRegions::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create().name("idx_user_regions_region").table(UserRegions::Table).col(UserRegions::RegionCode).to_owned(),
            )
            .await?;
        let fill = match manager.get_database_backend() {
            DatabaseBackend::Postgres => {
                "INSERT INTO user_regions (user_id, region_code) \
                 SELECT DISTINCT u.id, r.code FROM users u, jsonb_array_elements_text(u.regions::jsonb) AS r(code) \
                 WHERE u.regions IS NOT NULL AND u.regions <> '' AND u.regions <> '[]'"
            }
            _ => {
                "INSERT INTO user_regions (user_id, region_code) \
                 SELECT DISTINCT u.id, j.value FROM users u, json_each(u.regions) AS j \
                 WHERE u.regions IS NOT NULL AND u.regions <> '' AND u.regions <> '[]'"
            }
        };
        manager.get_connection().execute_unprepared(fill).await?;
        manager.alter_table(Table::alter().table(Users::Table).drop_column(Users::Regions).to_owned()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(Table::alter().table(Users::Table).add_column(text(Users::Regions).default("[]")).to_owned())
            .await?;
        let refill = match manager.get_database_backend() {
            DatabaseBackend::Postgres => {
                "UPDATE users SET regions = COALESCE((SELECT json_agg(r.region_code ORDER BY r.region_code)::text \
                 FROM user_regions r WHERE r.user_id = users.id), '[]')"
            }
            _ => {
                "UPDATE users SET regions = COALESCE((SELECT json_group_array(r.region_code) \
                 FROM user_regions r WHERE r.user_id = users.id), '[]')"
            }
        };
        manager.get_connection().execute_unprepared(refill).await?;
        manager.drop_table(Table::drop().table(UserRegions::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum UserRegions {
    Table,
    UserId,
    RegionCode,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Regions,
}
