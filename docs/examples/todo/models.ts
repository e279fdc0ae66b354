// The to-do list's models. Both the server (server.ts) and the page (app.ts) import this file,
// so it imports from 'jetstream/client': the model layer without anything that needs Node.
import { defineModel } from 'jetstream/client';

export const Todo = defineModel('Todo', {
  title: String,
  done: { type: Boolean, defaultValue: false },
});

export const TodoList = defineModel('TodoList', {
  name: String,
  todos: [Todo],
});
