// The page: connect, fetch the "Todos" scope, render it, and turn clicks into edits.
import { connect, type SyncStatus } from 'jetstream/client';
import { Todo, TodoList } from './models.js';

const element = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const heading = element<HTMLHeadingElement>('name');
const status = element<HTMLParagraphElement>('status');
const form = element<HTMLFormElement>('add');
const input = element<HTMLInputElement>('title');
const items = element<HTMLUListElement>('list');
const clear = element<HTMLButtonElement>('clear');

const client = await connect(`ws://${location.host}/`);
const todos = await client.fetch('Todos', TodoList);
const list = todos.root;

// Titles are other users' text: they go in with textContent, never innerHTML.
function render(): void {
  heading.textContent = list.name;
  items.replaceChildren(
    ...list.todos.map((todo) => {
      const box = document.createElement('input');
      box.type = 'checkbox';
      box.checked = todo.done === true;
      box.addEventListener('change', () => {
        todo.done = box.checked; // an edit: applied at once, sent at the end of the turn
      });
      const title = document.createElement('span');
      title.textContent = todo.title;
      const item = document.createElement('li');
      item.className = todo.done ? 'done' : '';
      item.append(box, ' ', title);
      return item;
    }),
  );
}
todos.on('change', render); // an object's properties changed (here, remotely or rolled back)
todos.on('add', render); // an object joined the scope
todos.on('remove', render); // an object left it
render();

form.addEventListener('submit', (event) => {
  event.preventDefault();
  list.todos.push(new Todo({ title: input.value }));
  input.value = '';
});

// Several edits as one changeset, all or nothing; the promise says what the server did.
clear.addEventListener('click', async () => {
  const result = await todos.transaction(
    () => {
      for (const todo of list.todos.filter((t) => t.done === true)) list.todos.remove(todo);
    },
    { atomic: true },
  );
  if (!result.ok) console.warn('rejected:', result.errors); // …and the edits were rolled back
});

function showStatus(s: SyncStatus): void {
  status.textContent = !s.connected ? 'Offline' : s.pendingChangesets > 0 ? 'Saving…' : 'Saved';
}
client.on('status', showStatus);
showStatus(client.status);
