//! Reading a joined row by column position.
//!
//! sea-orm's derived `from_query_result` reads each column by name: with a prefix (a joined
//! entity) it formats the prefixed name first, the driver then hashes it to find the column,
//! and every NULL read formats the column name into an error that `Option` turns back into
//! `None`. For the review queue's 20 rows × 62 columns that was a fifth of the server's CPU per
//! request (issue 15). Here the select list and the reading come from ONE list of columns per
//! entity, so they cannot disagree, and the struct literal makes the compiler check that the
//! list names every field.

use sea_orm::{ColumnTrait, DbErr, EntityTrait, QueryResult, TryGetable, sea_query::SelectStatement};

/// A model read from consecutive columns of a row, in the order of `COLUMNS`.
pub trait ReadAt: Sized {
    type Entity: EntityTrait;
    /// The entity's column names, in the order `read_at` reads them.
    const COLUMNS: &'static [&'static str];

    /// Reads the model from the columns at `*at..`, leaving `*at` after them.
    fn read_at(row: &QueryResult, at: &mut usize) -> Result<Self, DbErr>;

    /// Appends the model's columns to a select list, in reading order.
    fn select_into(select: &mut SelectStatement) -> Result<(), DbErr> {
        for name in Self::COLUMNS {
            let column: <Self::Entity as EntityTrait>::Column = name
                .parse()
                .map_err(|_| DbErr::Custom(format!("no column {name} in {}", std::any::type_name::<Self>())))?;
            select.expr(column.select_as(sea_orm::sea_query::Expr::col((Self::Entity::default(), column))));
        }
        Ok(())
    }

    /// A LEFT JOINed model: `None` when its first column (the primary key) is NULL.
    fn read_optional_at(row: &QueryResult, at: &mut usize) -> Result<Option<Self>, DbErr> {
        let key = Option::<uuid::Uuid>::cell(row, *at)?;
        if key.is_none() {
            *at += Self::COLUMNS.len();
            return Ok(None);
        }
        Self::read_at(row, at).map(Some)
    }
}

fn next<T: Cell>(row: &QueryResult, at: &mut usize) -> Result<T, DbErr> {
    let value = T::cell(row, *at);
    *at += 1;
    value
}

/// A value read at a column position.
trait Cell: Sized {
    fn cell(row: &QueryResult, at: usize) -> Result<Self, DbErr>;
}

/// Through sea-orm (SQLite, and the enums everywhere).
fn via_sea_orm<T: TryGetable>(row: &QueryResult, at: usize) -> Result<T, DbErr> {
    T::try_get_by(row, Column(at)).map_err(|err| match err {
        // Only a column that may not be NULL gets here with a NULL (an `Option` reads it as None).
        sea_orm::TryGetError::Null(_) => DbErr::Type(format!("column {at} of the row is NULL")),
        sea_orm::TryGetError::DbErr(err) => err,
    })
}

/// Plain types on PostgreSQL: decoded by sqlx from the row in one checked step. sea-orm fetched
/// each value twice and checked its type twice (≈ a fifth of a review-queue page's CPU went to
/// reading its 20 × 62 columns, issue 15).
macro_rules! plain_cells {
    ($($plain:ty),+) => {$(
        impl Cell for $plain {
            fn cell(row: &QueryResult, at: usize) -> Result<Self, DbErr> {
                match row.try_as_pg_row() {
                    Some(pg) => sea_orm::sqlx::Row::try_get::<$plain, usize>(pg, at).map_err(|e| DbErr::Type(format!("column {at}: {e}"))),
                    None => via_sea_orm(row, at),
                }
            }
        }
        impl Cell for Option<$plain> {
            fn cell(row: &QueryResult, at: usize) -> Result<Self, DbErr> {
                match row.try_as_pg_row() {
                    Some(pg) => sea_orm::sqlx::Row::try_get::<Option<$plain>, usize>(pg, at).map_err(|e| DbErr::Type(format!("column {at}: {e}"))),
                    None => via_sea_orm(row, at),
                }
            }
        }
    )+};
}

plain_cells!(uuid::Uuid, String, i32, i64, chrono::DateTime<chrono::Utc>);

/// Enums (stored as their names) through sea-orm on every database.
macro_rules! enum_cells {
    ($($enum:ty),+) => {$(
        impl Cell for $enum {
            fn cell(row: &QueryResult, at: usize) -> Result<Self, DbErr> {
                via_sea_orm(row, at)
            }
        }
        impl Cell for Option<$enum> {
            fn cell(row: &QueryResult, at: usize) -> Result<Self, DbErr> {
                via_sea_orm(row, at)
            }
        }
    )+};
}

enum_cells!(
    entity::enums::Agency,
    entity::enums::DecidedBy,
    entity::enums::CaseStatus,
    entity::enums::CaseType,
    entity::enums::FilingKind,
    entity::enums::FilingStatus,
    entity::enums::Role
);

/// A column position whose `Debug` writes nothing. sea-orm reads a NULL into an `Option` by
/// first making a "null value at {index:?}" error and then dropping it: with `usize`, that is
/// a formatted string for every NULL column of every row (≈ 4 % of a review-queue request's
/// CPU, issue 15); with this, an empty string, which does not allocate.
#[derive(Clone, Copy)]
struct Column(usize);

impl std::fmt::Debug for Column {
    fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        Ok(())
    }
}

impl sea_orm::ColIdx for Column {
    type SqlxPostgresIndex = usize;
    type SqlxSqliteIndex = usize;

    fn as_sqlx_postgres_index(&self) -> usize {
        self.0
    }
    fn as_sqlx_sqlite_index(&self) -> usize {
        self.0
    }
    fn as_str(&self) -> Option<&str> {
        None
    }
    fn as_usize(&self) -> Option<&usize> {
        Some(&self.0)
    }
}

/// Implements `ReadAt` for an entity's model from the list of its fields (= column names).
macro_rules! read_in_order {
    ($module:ident { $($field:ident),+ $(,)? }) => {
        impl ReadAt for entity::$module::Model {
            type Entity = entity::$module::Entity;
            const COLUMNS: &'static [&'static str] = &[$(stringify!($field)),+];

            fn read_at(row: &QueryResult, at: &mut usize) -> Result<Self, DbErr> {
                Ok(Self { $($field: next(row, at)?),+ })
            }
        }
    };
}

read_in_order!(filing {
    id,
    case_id,
    kind,
    agency,
    status,
    version,
    region_code,
    data,
    assignee_id,
    due_at,
    paused_remaining_secs,
    decision_note,
    certificate_number,
    uscc,
    submitted_at,
    decided_at,
    created_at,
    updated_at,
    reminder_sent_at,
    overdue_notified_at,
    decided_by,
    automatic_decision,
    paused_working_days,
    licence_id,
    receiving_region_code,
    received_at,
});
read_in_order!(case {
    id,
    reference,
    merchant_id,
    region_code,
    status,
    created_at,
    submitted_at,
    updated_at,
    profile,
    ruleset_version,
    requirements,
    case_type,
});
read_in_order!(merchant {
    id,
    owner_user_id,
    name,
    uscc,
    declared_uscc,
    region_code,
    address,
    contact_email,
    contact_phone,
    store_urls,
    categories,
    risk_level,
    pass_streak,
    created_at,
    updated_at,
});
read_in_order!(user {
    id,
    email,
    password_hash,
    display_name,
    role,
    email_verified_at,
    agency,
    created_at,
    updated_at
});

#[cfg(test)]
mod tests {
    use sea_orm::{EntityTrait, Iterable};

    use super::ReadAt;

    /// Every column is read: a column added to an entity and not to its list here fails this.
    fn reads_every_column<M: ReadAt>() {
        let columns = <M::Entity as EntityTrait>::Column::iter().count();
        assert_eq!(
            M::COLUMNS.len(),
            columns,
            "{} reads {} of its {columns} columns",
            std::any::type_name::<M>(),
            M::COLUMNS.len()
        );
        let mut select = sea_orm::sea_query::Query::select();
        M::select_into(&mut select).expect("every listed name is a column");
    }

    #[test]
    fn the_positional_readers_read_every_column() {
        reads_every_column::<entity::filing::Model>();
        reads_every_column::<entity::case::Model>();
        reads_every_column::<entity::merchant::Model>();
        reads_every_column::<entity::user::Model>();
    }
}
