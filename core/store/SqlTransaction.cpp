#include "SqlTransaction.h"

#include "Logging.h"

namespace fmb {

Error sqlError(const QSqlError &error, const QString &what)
{
    // SQLITE_BUSY (5) and SQLITE_LOCKED (6): another writer held the database
    // for longer than busy_timeout.
    const QString native = error.nativeErrorCode();
    const ErrorCode code = (native == QLatin1String("5") || native == QLatin1String("6"))
                               ? ErrorCode::Unavailable
                               : ErrorCode::Io;
    return Error{code, what, QStringLiteral("database error: ") + error.text()};
}

Result<void> execPrepared(QSqlQuery &query, const QString &sql, const QVariantList &values)
{
    // The statement names the operation; its values are bound, never inlined.
    if (!query.prepare(sql))
        return sqlError(query.lastError(), sql.simplified().left(60));
    for (qsizetype i = 0; i < values.size(); ++i) {
        const QVariant &value = values.at(i);
        // Every text column is NOT NULL, and a null QString would bind as NULL.
        if (value.typeId() == QMetaType::QString && value.toString().isNull())
            query.bindValue(static_cast<int>(i), QStringLiteral(""));
        else
            query.bindValue(static_cast<int>(i), value);
    }
    if (!query.exec())
        return sqlError(query.lastError(), sql.simplified().left(60));
    return {};
}

SqlTransaction::SqlTransaction(QSqlDatabase db)
    : m_db(std::move(db))
{}

SqlTransaction::~SqlTransaction()
{
    if (!m_active)
        return;
    QSqlQuery query(m_db);
    if (!execPrepared(query, QStringLiteral("ROLLBACK")).ok())
        qCWarning(lcStore, "rollback failed: %s", qPrintable(query.lastError().text()));
}

Result<void> SqlTransaction::begin()
{
    QSqlQuery query(m_db);
    if (Result<void> r = execPrepared(query, QStringLiteral("BEGIN IMMEDIATE")); !r.ok())
        return r;
    m_active = true;
    return {};
}

Result<void> SqlTransaction::commit()
{
    QSqlQuery query(m_db);
    if (Result<void> r = execPrepared(query, QStringLiteral("COMMIT")); !r.ok())
        return r;
    m_active = false;
    return {};
}

} // namespace fmb
