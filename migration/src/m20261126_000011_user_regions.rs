use sea_orm_migration::{prelude::*, schema::*, sea_orm::DatabaseBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Officers' and supervisors' regions as rows (`user_regions`) instead of a JSON text column,
/// so "the supervisors of a region" is an indexed join, not a substring match. The rows are
/// filled from `users.regions` (in the order the administrator gave them, duplicates merged;
/// a value that is not a JSON array counts as no regions), which is then dropped.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(UserRegions::Table)
                    .if_not_exists()
                    .col(uuid(UserRegions::UserId))
                    .col(string_len(UserRegions::RegionCode, 6))
                    .col(integer(UserRegions::Position).default(0))
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
                Index::create()
                    .name("idx_user_regions_region")
                    .if_not_exists()
                    .table(UserRegions::Table)
                    .col(UserRegions::RegionCode)
                    .to_owned(),
            )
            .await?;
        let fill = match manager.get_database_backend() {
            DatabaseBackend::Postgres => {
                "INSERT INTO user_regions (user_id, region_code, position) \
                 SELECT u.id, r.code, (MIN(r.ord) - 1)::int FROM users u, \
                   jsonb_array_elements_text(CASE WHEN jsonb_typeof(u.regions::jsonb) = 'array' THEN u.regions::jsonb ELSE '[]'::jsonb END) \
                   WITH ORDINALITY AS r(code, ord) \
                 GROUP BY u.id, r.code \
                 ON CONFLICT DO NOTHING"
            }
            _ => {
                "INSERT OR IGNORE INTO user_regions (user_id, region_code, position) \
                 SELECT u.id, j.value, MIN(CAST(j.key AS INTEGER)) FROM users u, \
                   json_each(CASE WHEN json_valid(u.regions) THEN (CASE WHEN json_type(u.regions) = 'array' THEN u.regions ELSE '[]' END) ELSE '[]' END) AS j \
                 WHERE j.type = 'text' \
                 GROUP BY u.id, j.value"
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
                "UPDATE users SET regions = COALESCE((SELECT json_agg(r.region_code ORDER BY r.position)::text \
                 FROM user_regions r WHERE r.user_id = users.id), '[]')"
            }
            _ => {
                "UPDATE users SET regions = COALESCE((SELECT json_group_array(region_code) FROM \
                 (SELECT r.region_code FROM user_regions r WHERE r.user_id = users.id ORDER BY r.position)), '[]')"
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
    Position,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Regions,
}
