#include "PostgresTokenStore.h"

#include "PostgresSchema.h"

namespace fmb {

QString PostgresParams::display() const
{
    QString text = QStringLiteral("postgresql://");
    if (!user.isEmpty())
        text += user + QLatin1Char('@');
    if (host.startsWith(QLatin1Char('/')))
        return text + QStringLiteral("/%1?host=%2").arg(database, host);
    return text + QStringLiteral("%1:%2/%3").arg(host).arg(port).arg(database);
}

void PostgresParams::applyTo(QSqlDatabase &db) const
{
    db.setHostName(host);
    db.setPort(port);
    db.setDatabaseName(database);
    db.setUserName(user);
    if (!password.isEmpty())
        db.setPassword(password);
    db.setConnectOptions(
        QStringLiteral("connect_timeout=%1;application_name=forgejo-mcp-broker").arg(connectTimeoutSeconds));
}

Result<void> PostgresTokenStore::open(const PostgresParams &params, const QString &keyPath, bool createKey)
{
    if (isAttached())
        return Error{ErrorCode::Conflict, where(), QStringLiteral("the token store is already open")};
    if (!QSqlDatabase::isDriverAvailable(QStringLiteral("QPSQL"))) {
        return Error{ErrorCode::Unavailable, QStringLiteral("QPSQL"),
                     QStringLiteral("the Qt PostgreSQL driver is not installed (libqt6sql6-psql)")};
    }
    if (params.database.isEmpty())
        return Error{ErrorCode::InvalidArgument, QStringLiteral("database"),
                     QStringLiteral("no database name")};
    Result<SecretBox> box =
        createKey ? SecretBox::loadOrCreateKeyFile(keyPath) : SecretBox::loadKeyFile(keyPath);
    if (!box.ok())
        return box.error();

    Connection connection;
    connection.name = newConnectionName();
    connection.where = params.display();
    connection.keyName = keyPath;
    connection.db = QSqlDatabase::addDatabase(QStringLiteral("QPSQL"), connection.name);
    params.applyTo(connection.db);
    return attach(connection, std::move(box).value(), &PostgresSchema::migrate);
}

QString PostgresTokenStore::lockRows(const QString &alias) const
{
    return QStringLiteral(" FOR UPDATE OF ") + alias;
}

} // namespace fmb
