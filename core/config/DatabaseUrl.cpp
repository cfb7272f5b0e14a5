#include "DatabaseUrl.h"

#include <QUrl>
#include <QUrlQuery>

namespace fmb {
namespace {

Error bad(const QString &text, const QString &why)
{
    return Error{ErrorCode::InvalidArgument, QStringLiteral("database"),
                 QStringLiteral("database: \"%1\" %2").arg(text, why)};
}

const QString Forms = QStringLiteral("(try sqlite:/var/lib/forgejo-mcp-broker/broker.sqlite3 or "
                                     "postgresql://broker@db.example.org:5432/broker)");

} // namespace

Result<DatabaseUrl> parseDatabaseUrl(const QString &text)
{
    DatabaseUrl url;
    if (text.startsWith(QLatin1String("sqlite:"))) {
        url.sqlitePath = text.mid(7);
        if (!url.sqlitePath.startsWith(QLatin1Char('/')))
            return bad(text, QStringLiteral("needs an absolute path after sqlite: ") + Forms);
        return url;
    }
    if (!text.startsWith(QLatin1String("postgresql://")) && !text.startsWith(QLatin1String("postgres://")))
        return bad(text, QStringLiteral("is neither sqlite:PATH nor postgresql://... ") + Forms);
    // Up to the last '@': a password may hold '/', '?' or '@' itself.
    const qsizetype start = text.indexOf(QLatin1String("://")) + 3;
    const qsizetype at = text.lastIndexOf(QLatin1Char('@'));
    if (at >= start && text.mid(start, at - start).contains(QLatin1Char(':'))) {
        // Not quoted back: the part before '@' holds a password.
        return Error{ErrorCode::InvalidArgument, QStringLiteral("database"),
                     QStringLiteral("database: the URL holds a password; put it in --database-password-file "
                                    "(or ~/.pgpass) instead, so that it never shows in logs or ps")};
    }
    const QUrl parsed(text, QUrl::StrictMode);
    if (!parsed.isValid())
        return bad(text, QStringLiteral("is not a valid URL (postgresql://USER@HOST:PORT/DBNAME)"));
    url.kind = DatabaseUrl::Kind::Postgres;
    url.user = parsed.userName();
    url.host = parsed.host();
    url.port = parsed.port(5432);
    url.database = parsed.path().mid(1);
    const QUrlQuery query(parsed);
    for (const auto &[key, value] : query.queryItems(QUrl::FullyDecoded)) {
        if (key == QLatin1String("host")) {
            if (!value.startsWith(QLatin1Char('/')))
                return bad(text, QStringLiteral("has host=%1; a host in the query must be a socket directory "
                                                "(an absolute path)")
                                     .arg(value));
            url.host = value;
        } else {
            return bad(text, QStringLiteral("has the parameter %1, which the broker does not pass on "
                                            "(only host=/socket/dir)")
                                 .arg(key));
        }
    }
    if (url.host.isEmpty())
        return bad(text, QStringLiteral("names no host (postgresql://USER@HOST:PORT/DBNAME, or "
                                        "?host=/run/postgresql for a Unix socket)"));
    if (url.database.isEmpty() || url.database.contains(QLatin1Char('/')))
        return bad(text, QStringLiteral("names no database (postgresql://USER@HOST:PORT/DBNAME)"));
    return url;
}

} // namespace fmb
