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
    // SQLite: SQLITE_BUSY (5) and SQLITE_LOCKED (6), another writer held the
    // database for longer than busy_timeout. PostgreSQL (the SQLSTATE):
    // serialization failure, deadlock, lock timeout, shutdown and connection
    // exceptions (class 08) are Unavailable, a unique violation is Conflict.
    const QString native = error.nativeErrorCode();
    ErrorCode code = ErrorCode::Io;
    if (native == QLatin1String("5") || native == QLatin1String("6") || native == QLatin1String("40001") ||
        native == QLatin1String("40P01") || native == QLatin1String("55P03") ||
        native.startsWith(QLatin1String("57P")) || native.startsWith(QLatin1String("08")) ||
        error.type() == QSqlError::ConnectionError) {
        code = ErrorCode::Unavailable;
    } else if (native == QLatin1String("23505")) {
        code = ErrorCode::Conflict;
    }
    return Error{code, what, QStringLiteral("database error: ") + error.text()};
}

Result<void> execSql(const QSqlDatabase &db, const QString &sql)
{
    QSqlQuery query(db);
    if (!query.exec(sql))
        return sqlError(query.lastError(), sql.simplified().left(60));
    return {};
}

void dropConnection(QSqlDatabase &db, QString &name)
{
    if (name.isEmpty())
        return;
    db.close();
    db = QSqlDatabase();
    QSqlDatabase::removeDatabase(name);
    name.clear();
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
    if (Result<void> r = execSql(m_db, QStringLiteral("ROLLBACK")); !r.ok())
        qCWarning(lcStore, "rollback failed: %s", qPrintable(r.error().message));
}

Result<void> SqlTransaction::begin()
{
    // PostgreSQL has no IMMEDIATE: its read-then-write calls lock rows instead.
    const bool postgres = m_db.driverName() == QLatin1String("QPSQL");
    if (Result<void> r =
            execSql(m_db, postgres ? QStringLiteral("BEGIN") : QStringLiteral("BEGIN IMMEDIATE"));
        !r.ok())
        return r;
    m_active = true;
    return {};
}

Result<void> SqlTransaction::commit()
{
    if (Result<void> r = execSql(m_db, QStringLiteral("COMMIT")); !r.ok())
        return r;
    m_active = false;
    return {};
}

} // namespace fmb
