#pragma once

#include <QByteArray>
#include <QJsonObject>
#include <QString>

namespace fmbtest {

// Why the Landlock tests cannot run on this kernel, or empty when they can.
[[nodiscard]] QString landlockMissing();

// One compact JSON-RPC tools/call request line (no newline).
[[nodiscard]] QByteArray toolCall(int id, const QString &tool, const QJsonObject &arguments = {});

// The text of the first content item of a tools/call response, or empty.
[[nodiscard]] QString toolText(const QJsonObject &response);

} // namespace fmbtest
