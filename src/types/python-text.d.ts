/** A host program (src/host/*.py) imported as its text (tools/rollup/text-import.js). */
declare module '*.py' {
  const text: string
  export default text
}
