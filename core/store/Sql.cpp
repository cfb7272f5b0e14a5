#include "Sql.h"

#include "Logging.h"

namespace fmb {
namespace {

// Every text column is NOT NULL, and a null QString would bind as NULL.
QVariant bindable(const QVariant &value)
{
    if (value.typeId() == QMetaType::QString && value.toString().isNull())
        return QStringLiteral("");
    return value;
}

// Prepares, lets `bind` bind the values and runs: the one path every
// statement of the store takes.
template <typename Bind>
Result<QSqlQuery> run(const QSqlDatabase &db, const QString &sql, Bind bind)
{
    // The statement names the operation; its values are bound, never inlined.
    QSqlQuery query(db);
    query.setForwardOnly(true);
    if (!query.prepare(sql))
        return sqlError(query.lastError(), sql.simplified().left(60));
    bind(query);
    if (!query.exec())
        return sqlError(query.lastError(), sql.simplified().left(60));
    return query;
}

} // namespace

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

Result<QSqlQuery> runSql(const QSqlDatabase &db, const QString &sql, const QVariantList &values)
{
    return run(db, sql, [&values](QSqlQuery &query) {
        for (qsizetype i = 0; i < values.size(); ++i)
            query.bindValue(static_cast<int>(i), bindable(values.at(i)));
    });
}

Result<QSqlQuery> runSqlNamed(const QSqlDatabase &db, const QString &sql, const SqlNamedValues &values)
{
    return run(db, sql, [&values](QSqlQuery &query) {
        for (const auto &[name, value] : values)
            query.bindValue(name, bindable(value));
    });
}

SqlTransaction::SqlTransaction(QSqlDatabase db)
    : m_db(std::move(db))
{}

SqlTransaction::SqlTransaction(SqlTransaction &&other) noexcept
    : m_db(other.m_db)
    , m_active(std::exchange(other.m_active, false))
{}

SqlTransaction::~SqlTransaction()
{
    if (!m_active)
        return;
    if (Result<QSqlQuery> r = runSql(m_db, QStringLiteral("ROLLBACK")); !r.ok())
        qCWarning(lcStore, "rollback failed: %s", qPrintable(r.error().message));
}

Result<void> SqlTransaction::begin()
{
    if (Result<QSqlQuery> r = runSql(m_db, QStringLiteral("BEGIN IMMEDIATE")); !r.ok())
        return r.error();
    m_active = true;
    return {};
}

Result<void> SqlTransaction::commit()
{
    if (Result<QSqlQuery> r = runSql(m_db, QStringLiteral("COMMIT")); !r.ok())
        return r.error();
    m_active = false;
    return {};
}

} // namespace fmb
