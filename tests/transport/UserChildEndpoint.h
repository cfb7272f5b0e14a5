#pragma once

#include <memory>

#include <QHostAddress>
#include <QHttpServerRequest>
#include <QTest>

#include "TestSink.h"
#include "session/SessionRegistry.h"
#include "transport/McpHttpServer.h"

namespace fmb::test {

// Stands in for the bearer guard: "Bearer <user>" is that user, of grant "grant-<user>".
inline Result<SessionOwner, AuthFailure> bearerIsUser(const QHttpServerRequest &request)
{
    const QByteArray authorization = request.value("authorization");
    if (!authorization.startsWith("Bearer "))
        return AuthFailure{ErrorCode::Unauthorized, {}, QStringLiteral("Unauthorized")};
    const QString user = QString::fromLatin1(authorization.mid(7));
    return SessionOwner{user, QStringLiteral("grant-") + user};
}

// A broker's endpoint on a free port whose user children run the test MCP
// server, for the 2026-07-28 tests; gone (children stopped) with the fixture.
struct UserChildEndpoint {
    explicit UserChildEndpoint(const HttpConfig &config, Authenticator authenticator = bearerIsUser)
        : registry(RegistryLimits{}, [](const SessionOwner &, const QString &) -> std::unique_ptr<Backend> {
            return testServer();
        })
    {
        server =
            std::make_unique<McpHttpServer>(config, OriginPolicy({}, QStringLiteral("127.0.0.1"), QString()),
                                            &registry, std::move(authenticator));
        port = server->listenOn(QHostAddress::LocalHost, 0).value();
    }
    ~UserChildEndpoint()
    {
        server.reset();
        bool stopped = false;
        QObject::connect(&registry, &SessionRegistry::allStopped, &registry, [&stopped] { stopped = true; });
        registry.shutdown();
        (void)QTest::qWaitFor([&stopped] { return stopped; }, 10000);
    }
    UserChildEndpoint(const UserChildEndpoint &) = delete;
    UserChildEndpoint &operator=(const UserChildEndpoint &) = delete;

    SessionRegistry registry;
    std::unique_ptr<McpHttpServer> server;
    quint16 port = 0;
};

} // namespace fmb::test
