#include "ChildProbe.h"

#include <QJsonDocument>

#include "child/ChildSandbox.h"

namespace fmbtest {

QString landlockMissing()
{
    QString why;
    return fmb::ChildSandbox::landlockAbi(&why) < 1 ? QLatin1String("no Landlock on this kernel: ") + why
                                                    : QString();
}

QByteArray toolCall(int id, const QString &tool, const QJsonObject &arguments)
{
    const QJsonObject message{
        {QStringLiteral("jsonrpc"), QStringLiteral("2.0")},
        {QStringLiteral("id"), id},
        {QStringLiteral("method"), QStringLiteral("tools/call")},
        {QStringLiteral("params"),
         QJsonObject{{QStringLiteral("name"), tool}, {QStringLiteral("arguments"), arguments}}}};
    return QJsonDocument(message).toJson(QJsonDocument::Compact);
}

} // namespace fmbtest
