#pragma once

#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QString>
#include <QVariantList>

#include "base/Result.h"

// Small helpers over Qt Sql for fmb_store. Internal.
namespace fmb {

// The error for a failed statement. Never carries bound values: SQLite's
// messages name tables and columns, not data.
[[nodiscard]] Error sqlError(const QSqlError &error, const QString &what);

// Prepares `sql`, binds `values` in order (a null QString as the empty
// string: no text column takes NULL) and runs it.
[[nodiscard]] Result<void> execPrepared(QSqlQuery &query, const QString &sql,
                                        const QVariantList &values = {});

// BEGIN IMMEDIATE ... COMMIT on one connection; rolls back when destroyed
// uncommitted. IMMEDIATE takes the write lock up front, so a read-then-write
// (consume a code, rotate a token) cannot interleave with another writer.
// Queries run inside must be finished or destroyed before commit().
class SqlTransaction final {
public:
    explicit SqlTransaction(QSqlDatabase db);
    ~SqlTransaction();
    SqlTransaction(const SqlTransaction &) = delete;
    SqlTransaction &operator=(const SqlTransaction &) = delete;

    [[nodiscard]] Result<void> begin();
    [[nodiscard]] Result<void> commit();

private:
    QSqlDatabase m_db;
    bool m_active = false;
};

} // namespace fmb
