import { mount } from "svelte";
import App from "./App.svelte";
import { AppStore } from "./lib/store.svelte";
import "./app.css";

const target = document.getElementById("app");
if (!target) throw new Error("missing #app");

export default mount(App, { target, props: { store: new AppStore() } });
