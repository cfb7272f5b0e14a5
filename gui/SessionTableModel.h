#pragma once

#include <QAbstractTableModel>
#include <QList>

#include "admin/AdminProtocol.h"

namespace fmb {

// The console's sessions, one row each, kept current from the admin socket's
// list/subscribe: rows are updated in place (dataChanged), inserted and
// removed one by one, so views keep their selection and scroll position.
// Time columns (last active, idle, token expiry) are relative to now(), which
// the window advances once a second (setNow).
class SessionTableModel final : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column {
        IdColumn,
        UserColumn,
        ClientColumn,
        CreatedColumn,
        LastActiveColumn,
        IdleColumn,
        TokenColumn,
        PidColumn,
        StateColumn,
        ColumnCount
    };
    enum Role {
        SortRole = Qt::UserRole + 1, // raw values for QSortFilterProxyModel
        SessionIdRole,               // the full id, on every column
        TokenStatusRole,             // TokenStatus as int, on every column
    };
    enum class TokenStatus { None, Valid, Expiring, Expired };
    Q_ENUM(TokenStatus)

    explicit SessionTableModel(QObject *parent = nullptr);
    ~SessionTableModel() override;

    [[nodiscard]] int rowCount(const QModelIndex &parent = {}) const override;
    [[nodiscard]] int columnCount(const QModelIndex &parent = {}) const override;
    [[nodiscard]] QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    [[nodiscard]] QVariant headerData(int section, Qt::Orientation orientation,
                                      int role = Qt::DisplayRole) const override;

    // Makes the rows match `sessions` (a fresh list after (re)connecting):
    // known ids are updated in place, missing ones removed, new ones appended.
    void setSessions(const QList<SessionInfo> &sessions);
    // Updates the row of info.id, or appends one.
    void upsert(const SessionInfo &info);
    void remove(const QString &id);
    void clear();

    [[nodiscard]] int rowOf(const QString &id) const;
    [[nodiscard]] SessionInfo sessionAt(int row) const;
    [[nodiscard]] QList<SessionInfo> sessions() const;

    // Wall clock for the relative columns; dataChanged for them follows.
    void setNow(qint64 nowMs);
    [[nodiscard]] qint64 now() const { return m_nowMs; }
    // Tokens expiring within this lead are marked (the broker refreshes then).
    void setRefreshLeadSeconds(int seconds);
    [[nodiscard]] int refreshLeadSeconds() const { return m_refreshLeadSeconds; }

    [[nodiscard]] TokenStatus tokenStatus(qint64 expiresMs) const;
    // "no token", "59m 12s", "expired"; the countdown a person reads.
    [[nodiscard]] QString tokenText(qint64 expiresMs) const;
    [[nodiscard]] QString tokenToolTip(qint64 expiresMs) const;
    // "45s", "4m 59s", "2h 03m", "3d 04h" (translated units).
    [[nodiscard]] static QString durationText(qint64 seconds);
    // Shortened ids as the table shows them.
    [[nodiscard]] static QString shortId(const QString &id);

private:
    struct Row {
        SessionInfo info;
        qint64 receivedMs = 0; // wall clock when info arrived: idle time grows from it
    };
    [[nodiscard]] qint64 idleSeconds(const Row &row) const;
    [[nodiscard]] QVariant display(const Row &row, int column) const;
    [[nodiscard]] QVariant sortValue(const Row &row, int column) const;

    QList<Row> m_rows;
    qint64 m_nowMs = 0;
    int m_refreshLeadSeconds = 300;
};

} // namespace fmb
