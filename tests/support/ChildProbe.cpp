#include "ChildProbe.h"

#include <QJsonArray>
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

QString toolText(const QJsonObject &response)
{
    return response.value(QLatin1String("result"))
        .toObject()
        .value(QLatin1String("content"))
        .toArray()
        .first()
        .toObject()
        .value(QLatin1String("text"))
        .toString();
}

} // namespace fmbtest
