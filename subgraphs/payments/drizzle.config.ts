import { defineConfig } from 'drizzle-kit';

// `npm run db:generate -w @symbeon/payments` writes a new SQL migration into drizzle/ after a change to
// src/db/schema.ts or to a provider module's own tables in src/modules/<name>/<name>-schema.ts (declared with
// the `payments` pgSchema exported by db/schema.ts). Migrations are committed and applied at start-up into
// the `payments` schema.
export default defineConfig({
  dialect: 'postgresql',
  schema: ['./src/db/schema.ts', './src/modules/*/*-schema.ts'],
  out: './drizzle',
  schemaFilter: ['payments'],
});
