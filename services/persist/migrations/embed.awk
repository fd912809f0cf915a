# Embeds the migrations (NNNN_name.sql, given in order) into a C file:
# persist_migrations[] = { {version, "name", "sql"}, ... }, see persist_migrate.h.
# Run by the Makefile: awk -f embed.awk services/persist/migrations/*.sql
function finish() {
    if (open) printf "    },\n"
    open = 0
}
BEGIN {
    print "/* Generated from the migrations (services/persist/migrations) by embed.awk: do not edit. */"
    print "#include \"persist_migrate.h\""
    print ""
    print "const persist_migration_t persist_migrations[] = {"
}
FNR == 1 {
    finish()
    base = FILENAME
    sub(/.*\//, "", base)
    sub(/\.sql$/, "", base)
    if (base !~ /^[0-9]+_[A-Za-z0-9_]+$/) {
        print "embed.awk: bad migration name " FILENAME > "/dev/stderr"
        exit 1
    }
    version = base
    sub(/_.*/, "", version)
    printf "    {\n        %d,\n        \"%s\",\n", version + 0, base
    open = 1
}
{
    line = $0
    gsub(/\\/, "\\\\", line)
    gsub(/"/, "\\\"", line)
    printf "        \"%s\\n\"\n", line
}
END {
    finish()
    print "};"
    print ""
    print "const size_t persist_migrations_count = sizeof(persist_migrations) / sizeof(persist_migrations[0]);"
}
