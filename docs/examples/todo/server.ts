// The server: one scope, "Todos", whose root is a TodoList. It serves the page (the files in
// public/) and the sync endpoint on the same port.
import { createServer, Scope } from 'jetstream';
import { TodoList } from './models.js';

const scope = new Scope({ name: 'Todos' });
scope.setRoot(new TodoList({ name: 'Groceries' }));

const server = await createServer({
  port: Number(process.env.PORT ?? 3000),
  scopes: [scope],
  static: 'public',
});
console.log(`To-do list on http://localhost:${server.port}/`);
