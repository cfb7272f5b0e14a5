#pragma once

#include <QAbstractTableModel>
#include <QList>
#include <QStringList>

namespace fmb {

class SessionTableModel;

// The console's users (issue 15, the per-user view): one row per user who
// has sessions or a 2026-07-28 user child, derived from the session table, so
// it costs no admin traffic and is as live as the sessions. The token column
// counts down to the soonest upstream-token expiry among the user's sessions.
class UserTableModel final : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column {
        UserColumn,
        SessionsColumn,
        ChildrenColumn,
        InFlightColumn,
        TokenColumn,
        ClientsColumn,
        ColumnCount
    };
    enum Role {
        SortRole = Qt::UserRole + 1, // raw values for QSortFilterProxyModel
        UserNameRole,                // the login, on every column
    };

    struct User {
        QString name;
        int sessions = 0;          // session-revision sessions
        int userChildren = 0;      // 2026-07-28 children (one per user, or none)
        int inFlight = 0;          // requests waiting for an answer, over both
        qint64 tokenExpiresMs = 0; // the soonest; 0: no token (local mode)
        QStringList clients;       // distinct client names, sorted
        friend bool operator==(const User &, const User &) = default;
    };

    explicit UserTableModel(SessionTableModel *sessions, QObject *parent = nullptr);

    [[nodiscard]] int rowCount(const QModelIndex &parent = {}) const override;
    [[nodiscard]] int columnCount(const QModelIndex &parent = {}) const override;
    [[nodiscard]] QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    [[nodiscard]] QVariant headerData(int section, Qt::Orientation orientation,
                                      int role = Qt::DisplayRole) const override;

    [[nodiscard]] int rowOf(const QString &user) const;
    [[nodiscard]] User userAt(int row) const { return m_users.value(row); }

private:
    void rebuild();
    [[nodiscard]] QVariant display(const User &user, int column) const;

    SessionTableModel *m_sessions;
    QList<User> m_users; // by name
};

} // namespace fmb
