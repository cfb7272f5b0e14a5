#pragma once

#include <utility>

#include <QList>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QString>
#include <QVariantList>

#include "base/Result.h"

// Small helpers over Qt Sql for fmb_store. Internal.
namespace fmb {

// Closes `db`, removes the connection `name` from Qt's list of connections
// (after the last handle to it is gone) and clears both. Nothing when `name`
// is empty (not connected).
void dropConnection(QSqlDatabase &db, QString &name);

// Values for `:name` placeholders. A name may stand in the statement more
// than once (one value for every place that needs "now").
using SqlNamedValues = QList<std::pair<QString, QVariant>>;

// The error for a failed statement. Never carries bound values: SQLite's
// messages name tables and columns, not data (PostgreSQL's detail may quote
// a key: the text is for the log of the broker that owns the data).
[[nodiscard]] Error sqlError(const QSqlError &error, const QString &what);

// Runs `sql` without preparing it: transaction control and DDL, which
// PostgreSQL cannot PREPARE. No values.
[[nodiscard]] Result<void> execSql(const QSqlDatabase &db, const QString &sql);

// Prepares `sql` on `db`, binds `values` (positional `?` in order, or named
// `:name`; a null QString binds as the empty string: no text column takes
// NULL) and runs it. The query reads the statement's rows (forward only) and
// numRowsAffected(); finish or destroy it before a transaction commits.
[[nodiscard]] Result<QSqlQuery> runSql(const QSqlDatabase &db, const QString &sql,
                                       const QVariantList &values = {});
[[nodiscard]] Result<QSqlQuery> runSqlNamed(const QSqlDatabase &db, const QString &sql,
                                            const SqlNamedValues &values);

// BEGIN IMMEDIATE ... COMMIT on one connection; rolls back when destroyed
// uncommitted. IMMEDIATE takes the write lock up front, so a read-then-write
// (consume a code, rotate a token) cannot interleave with another writer.
// On PostgreSQL (QPSQL) a plain BEGIN: the caller locks the rows it reads.
// Queries run inside must be finished or destroyed before commit().
class SqlTransaction final {
public:
    explicit SqlTransaction(QSqlDatabase db);
    ~SqlTransaction();
    SqlTransaction(SqlTransaction &&other) noexcept;
    SqlTransaction &operator=(SqlTransaction &&) = delete;
    SqlTransaction(const SqlTransaction &) = delete;
    SqlTransaction &operator=(const SqlTransaction &) = delete;

    [[nodiscard]] Result<void> begin();
    [[nodiscard]] Result<void> commit();

private:
    QSqlDatabase m_db;
    bool m_active = false;
};

} // namespace fmb
